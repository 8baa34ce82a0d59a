import { setTimeout as sleep } from 'node:timers/promises';
import { parse } from 'graphql';
import { generateKey } from '../src/auth.js';
import { insertApiKey } from '../src/db/api-keys.js';
import { openDatabase } from '../src/db/client.js';
import { shapeLimitError } from '../src/document-shape.js';
import { loadEnv, queryLimitsOf } from '../src/env.js';
import { operationComplexity } from '../src/operation-limits.js';
import { schema } from '../src/schema/index.js';
import { describeUrl, loadBenchConfig } from './config.js';
import { preparePostgres } from './databases.js';
import { type BenchGateway, startBenchGateway, stopBenchGateway } from './gateway-process.js';
import { HOT_QUERY, HOT_VARIABLE_SETS } from './hot-workload.js';
import { describeProblems, hasProblems, percentile, runAtRate } from './load.js';
import { log, num, progressLog, table } from './report.js';
import { ADMITTED, fill, SHAPES } from './validation-shapes.js';
import { NESTED_QUERY, REQUEST_HEADERS } from './workload.js';

const ATTACKERS = Number(process.env.BENCH_ATTACKERS ?? 1);
const ATTACK_CONNECTIONS = Number(process.env.BENCH_ATTACK_CONNECTIONS ?? 4);
/** The partner's p99 under attack may be at most this many times its p99 alone. */
const P99_RATIO_TARGET = 1.5;
/** No event-loop stall may last longer than this. */
const STALL_TARGET_MS = 100;

const LIMITS = queryLimitsOf(loadEnv({}));

/** The cost the gateway charges for `query` with `variables`. */
function costOf(query: string, variables: Record<string, unknown> = {}): number {
  const result = operationComplexity({
    schema,
    document: parse(query),
    operationName: null,
    variableValues: variables,
  });
  if (!result) throw new Error('no operation');
  return result.complexity;
}

/** The largest `n` in 1..max whose `make(n)` costs at most the per-operation budget. */
function largestWithin(max: number, make: (n: number) => string): number {
  let n = 1;
  while (n < max && costOf(make(n + 1)) <= LIMITS.maxCost) n += 1;
  return n;
}

/** `count` copies of `field` under aliases `a0`, `a1`, ... (each copy gets its index). */
const aliases = (count: number, field: (i: number) => string) =>
  Array.from({ length: count }, (_, i) => `a${i}: ${field(i)}`).join(' ');

const companyId = (n: number) =>
  Buffer.from(`Company:bench-co-${String(n).padStart(6, '0')}`).toString('base64');

/** One request the attacker sends. */
interface Attack {
  name: string;
  body: string;
  /** The cost charged; undefined when the request is refused before it is costed. */
  cost: number | undefined;
  /** The error code it must get when it is refused on purpose (else it must be answered). */
  refusedWith?: string;
}

function attacks(): Attack[] {
  const made: Attack[] = [];
  const add = (name: string, query: string, variables: Record<string, unknown> = {}) =>
    made.push({
      name,
      body: JSON.stringify({ query, variables }),
      cost: costOf(query, variables),
    });
  add('reference query, first: 50', NESTED_QUERY, { first: 50 });
  const NODE = `... on Company { slug name country chipsDesigned(first: 100) { edges { node { slug name tpp
    policyDecisions(first: 3) { edges { effect node { slug title status jurisdiction } } } } } } }`;
  const nodesQuery = (n: number) =>
    `{ nodes(ids: ${JSON.stringify(Array(n).fill(companyId(1)))}) { id ${NODE} } }`;
  const ids = largestWithin(100, nodesQuery);
  add(`nodes: one id ${ids} times`, nodesQuery(ids));
  const decisions = (n: number) =>
    `{ ${aliases(n, (i) => `policyDecisions(first: 100, orderBy: ${i % 2 ? 'ANNOUNCED_ON_ASC' : 'ANNOUNCED_ON_DESC'}, filter: { announcedFrom: "2020-01-${String((i % 28) + 1).padStart(2, '0')}" }) { totalCount edges { cursor node { id slug title jurisdiction destinations authority kind status announcedOn effectiveOn chips { effect chip { slug name tpp designer { slug name } } } companies { slug name } } } }`)} }`;
  const decisionCopies = largestWithin(LIMITS.maxAliases, decisions);
  add(
    `${decisionCopies} aliases of policyDecisions(first: 100) with links`,
    decisions(decisionCopies),
  );
  const timeline = (n: number) =>
    `{ ${aliases(n, (i) => `timeline(first: 100, filter: { from: "2020-01-${String((i % 28) + 1).padStart(2, '0')}" }) { totalCount edges { cursor node { __typename ... on PolicyDecision { slug title status } ... on PolicyDecisionUpdate { id fromStatus toStatus occurredAt } ... on DemandSignal { slug kind observedOn quantityUnits valueUsd companies { slug name } } } } }`)} }`;
  const timelineCopies = largestWithin(LIMITS.maxAliases, timeline);
  add(`${timelineCopies} aliases of timeline(first: 100)`, timeline(timelineCopies));
  const counts = `{ ${aliases(LIMITS.maxAliases, (i) => `${i % 2 ? 'demandSignals' : 'policyDecisions'}(filter: { ${i % 2 ? 'observedFrom' : 'announcedFrom'}: "20${String(10 + (i % 15))}-01-01" }) { totalCount }`)} }`;
  add(`${LIMITS.maxAliases} aliases of totalCount over filtered lists`, counts);
  const exportStatus = (n: number) =>
    `{ chips(first: 100) { edges { node { slug ${aliases(n, (i) => `exportStatus(asOf: "202${i % 7}-0${(i % 9) + 1}-15") { exportEffect exportDecision { slug title } importEffect importDecision { slug title } }`)} } } } }`;
  const statusCopies = largestWithin(LIMITS.maxAliases, exportStatus);
  add(`chips(first: 100), ${statusCopies} exportStatus dates each`, exportStatus(statusCopies));
  // Validation: the worst documents the shape limits admit (valid, cheap to run), and the
  // costliest to validate of those they refuse (at the token limit; QUERY_TOO_COMPLEX).
  const admits = (text: string) => !shapeLimitError(parse(text), LIMITS);
  for (const [name, build] of Object.entries(ADMITTED)) {
    add(`validation: ${name} at the shape limits`, fill(build, LIMITS.maxTokens, admits));
  }
  for (const name of ['sameFieldNested', 'fragmentChain', 'manyFragments'] as const) {
    const build = SHAPES[name] as (n: number) => string;
    const query = fill(build, LIMITS.maxTokens);
    made.push({
      name: `validation: ${name} (refused)`,
      body: JSON.stringify({ query }),
      cost: undefined,
      refusedWith: 'QUERY_TOO_COMPLEX',
    });
  }
  return made;
}

type Gateway = BenchGateway;

/** The gateway's event-loop delay since the previous call (prom-client resets on scrape). */
async function eventLoop(gateway: Gateway): Promise<{ p99Ms: number; maxMs: number }> {
  const text = await (await fetch(gateway.metricsUrl)).text();
  const value = (name: string) =>
    Number(new RegExp(`^${name} ([0-9.e+-]+)$`, 'm').exec(text)?.[1] ?? Number.NaN) * 1000;
  return {
    p99Ms: value('nodejs_eventloop_lag_p99_seconds'),
    maxMs: value('nodejs_eventloop_lag_max_seconds'),
  };
}

/** Sends one attack from `address`; the status, size and latency of its answer. */
async function send(gateway: Gateway, attack: Attack, address: string) {
  const started = performance.now();
  const response = await fetch(gateway.url, {
    method: 'POST',
    headers: { ...REQUEST_HEADERS, 'x-forwarded-for': address },
    body: attack.body,
    signal: AbortSignal.timeout(120_000),
  });
  const text = await response.text();
  return {
    status: response.status,
    bytes: Buffer.byteLength(text),
    ms: performance.now() - started,
    retryAfter: Number(response.headers.get('retry-after') ?? 0),
    errors: (JSON.parse(text) as { errors?: { extensions?: { code?: string } }[] }).errors,
  };
}

/** What the attack phase's attacker got. */
interface AttackTally {
  answered: number;
  refused: number;
  bytes: number;
  latencies: number[];
}

/** Attackers sending `list` in turn until `until`, each honouring the 429s it gets. */
async function attack(gateway: Gateway, list: Attack[], until: number): Promise<AttackTally> {
  const tally: AttackTally = { answered: 0, refused: 0, bytes: 0, latencies: [] };
  let next = 0;
  const loop = async (address: string) => {
    while (performance.now() < until) {
      const attackNow = list[next++ % list.length] as Attack;
      const result = await send(gateway, attackNow, address);
      if (result.status === 429) {
        tally.refused += 1;
        const wait = Math.min(result.retryAfter * 1000, until - performance.now());
        if (wait > 0) await sleep(wait);
        continue;
      }
      tally.answered += 1;
      tally.bytes += result.bytes;
      tally.latencies.push(result.ms);
    }
  };
  const loops: Promise<void>[] = [];
  for (let a = 0; a < ATTACKERS; a += 1) {
    for (let c = 0; c < ATTACK_CONNECTIONS; c += 1) loops.push(loop(`198.51.100.${a + 1}`));
  }
  await Promise.all(loops);
  return tally;
}

async function main(): Promise<boolean> {
  const config = loadBenchConfig({
    BENCH_DURATION: '60',
    BENCH_RATE: '5',
    BENCH_DATABASE: 'chipgate_bench_isolation',
    ...process.env,
  });
  const progress = progressLog();
  log(
    `chipgate isolation benchmark: S=${config.scale} on ${describeUrl(config.databaseUrl)}, ` +
      `partner at ${config.rate} req/s, ${config.durationSeconds} s per phase, ` +
      `${ATTACKERS} attacker address(es) x ${ATTACK_CONNECTIONS} connections`,
  );
  progress('generating the database');
  const prepared = await preparePostgres(
    config.scale,
    config.adminUrl,
    config.databaseUrl,
    config.databaseName,
  );
  let ok = true;
  let gateway: Gateway | undefined;
  try {
    // The partner: a read key with the default request limit and budget enough for its rate.
    const key = generateKey();
    const handle = await openDatabase({ databaseUrl: config.databaseUrl, poolMax: 1 });
    try {
      await insertApiKey(handle.db, {
        name: 'isolation partner',
        prefix: key.prefix,
        keyHash: key.keyHash,
        scopes: ['read'],
        costLimit: 100_000_000,
      });
    } finally {
      await handle.close();
    }
    const partnerHeaders = { authorization: `Bearer ${key.key}` };
    const partnerBodies = HOT_VARIABLE_SETS.map((variables) =>
      JSON.stringify({ query: HOT_QUERY, variables, operationName: 'Hot' }),
    );
    const list = attacks();
    progress('starting the gateway');
    gateway = await startBenchGateway(
      {
        DATABASE_URL: config.databaseUrl,
        // Each attacker address comes in X-Forwarded-For, as behind one proxy.
        CHIPGATE_TRUST_PROXY: '1',
      },
      'src/server.ts',
    );
    const running = gateway;
    // Warm-up: plans, connections, JIT.
    await runAtRate(running.url, config.rate, 5, partnerBodies, partnerHeaders);

    progress(`alone: the partner for ${config.durationSeconds} s`);
    await eventLoop(running);
    const alone = await runAtRate(
      running.url,
      config.rate,
      config.durationSeconds,
      partnerBodies,
      partnerHeaders,
    );
    const aloneLoop = await eventLoop(running);

    progress('each attack alone');
    const solo: (string | number)[][] = [];
    let soloMaxStall = 0;
    for (const [i, entry] of list.entries()) {
      await eventLoop(running);
      const result = await send(running, entry, `203.0.113.${i + 1}`);
      const loop = await eventLoop(running);
      soloMaxStall = Math.max(soloMaxStall, loop.maxMs);
      const code = result.errors?.[0]?.extensions?.code;
      solo.push([
        entry.name,
        entry.cost ?? '-',
        `${result.status}${code ? ` ${code}` : ''}`,
        num(result.bytes / 1024, 0),
        num(result.ms, 0),
        num(loop.maxMs, 0),
      ]);
      if (entry.refusedWith ? code !== entry.refusedWith : result.status !== 200) ok = false;
    }

    progress(`under attack: the partner and the attacker for ${config.durationSeconds} s`);
    await eventLoop(running);
    const until = performance.now() + config.durationSeconds * 1000;
    const [underAttack, tally] = await Promise.all([
      runAtRate(running.url, config.rate, config.durationSeconds, partnerBodies, partnerHeaders),
      attack(running, list, until),
    ]);
    const attackLoop = await eventLoop(running);
    tally.latencies.sort((a, b) => a - b);

    log('');
    log('Each attack operation alone (anonymous, a fresh address each):');
    log(table(['operation', 'cost', 'status', 'KB', 'latency ms', 'event-loop max ms'], solo));
    log('');
    log(`Partner (hot operation at ${config.rate} req/s, keyed) and the gateway's event loop:`);
    const ratio = underAttack.p99Ms / alone.p99Ms;
    log(
      table(
        ['phase', 'partner p50 ms', 'p99 ms', 'max ms', 'event-loop p99 ms', 'event-loop max ms'],
        [
          [
            'alone',
            num(alone.p50Ms),
            num(alone.p99Ms),
            num(alone.maxMs),
            num(aloneLoop.p99Ms),
            num(aloneLoop.maxMs),
          ],
          [
            'under attack',
            num(underAttack.p50Ms),
            num(underAttack.p99Ms),
            num(underAttack.maxMs),
            num(attackLoop.p99Ms),
            num(attackLoop.maxMs),
          ],
        ],
      ),
    );
    log(
      `Attacker: ${tally.answered} answered (${num(tally.bytes / 1024 / 1024, 1)} MB, p50 ` +
        `${num(percentile(tally.latencies, 50), 0)} ms, max ${num(tally.latencies.at(-1), 0)} ms), ` +
        `${tally.refused} refused with 429.`,
    );
    const maxStall = Math.max(aloneLoop.maxMs, attackLoop.maxMs, soloMaxStall);
    const verdicts = [
      [
        `partner p99 under attack / alone <= ${P99_RATIO_TARGET}`,
        `${num(ratio, 2)}x`,
        ratio <= P99_RATIO_TARGET,
      ],
      [
        `longest event-loop stall <= ${STALL_TARGET_MS} ms`,
        `${num(maxStall, 0)} ms`,
        maxStall <= STALL_TARGET_MS,
      ],
    ] as const;
    for (const [target, value, pass] of verdicts) {
      log(`${pass ? 'PASS' : 'MISS'} ${target}: ${value}`);
      if (!pass) ok = false;
    }
    for (const [phase, result] of [
      ['alone', alone],
      ['under attack', underAttack],
    ] as const) {
      if (hasProblems(result) || result.skipped > 0) {
        log(
          `FAILED partner requests ${phase}: ${describeProblems(result)}, ${result.skipped} skipped`,
        );
        ok = false;
      }
    }
  } finally {
    if (gateway) await stopBenchGateway(gateway);
    await prepared.dispose();
  }
  return ok;
}

main().then(
  (ok) => {
    process.exitCode = ok ? 0 : 1;
  },
  (error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  },
);
