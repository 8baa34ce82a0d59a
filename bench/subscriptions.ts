/**
 * `npm run bench:subscriptions`: live-update fan-out on one gateway instance over PostgreSQL.
 *
 * 1. Creates its own database on the server (`<BENCH_DATABASE>_subs`), migrated and seeded.
 * 2. Forks the gateway (`subscription-target.ts`, `--expose-gc`) and BENCH_CLIENT_PROCESSES
 *    (default 2) subscriber processes (`subscription-clients.ts`): the clients' own work is
 *    never counted against the gateway's process.
 * 3. For each transport in BENCH_TRANSPORTS (default sse,ws) and N in BENCH_SUBSCRIBERS (default
 *    1000,5000,10000): opens N subscribers spread evenly over BENCH_COHORTS (default 10)
 *    distinct operations (`subscription-cohorts.ts`), measures the gateway's heap and RSS per
 *    subscriber (after a full GC), then
 *    - lockstep: BENCH_EVENTS (default 20) status changes, each committed once the previous one
 *      reached every subscriber it should: latency = receipt minus the writer's COMMIT;
 *    - burst: BENCH_EVENTS more committed back to back: deliveries/s = deliveries / (last
 *      receipt - first commit's start), the gateway's CPU (its `process.cpuUsage()`) per 1,000
 *      deliveries and PostgreSQL's CPU (`server-cpu.ts`) over that window;
 *    and checks that every subscriber received exactly its cohort's events, once each, in
 *    commit order (the bench throws otherwise). N >= BENCH_HOLD_FROM (default 20000) is only held
 *    and measured (no events). N is capped to what the gateway's open-files limit fits.
 * 4. Disconnect hygiene: 500 SSE connect/receive/disconnect cycles, then the subscriber count
 *    and the heap growth after a full GC.
 * 5. Storm (`subscription-storm.ts`) for each of BENCH_STORM (default graceful,kill; `none`:
 *    skip) and each transport: BENCH_STORM_SUBSCRIBERS (default 5000) subscribers, the gateway
 *    restarted, events committed while it is down, catch-up measured.
 * Prints tables. Settings: DATABASE_URL (server; default 127.0.0.1:5432), BENCH_DATABASE and the
 * BENCH_* above.
 */
import postgres from 'postgres';
import { encodeEventCursor } from '../src/codecs.js';
import { openDatabase } from '../src/db/client.js';
import { runMigrations } from '../src/db/migrate.js';
import { seed } from '../src/db/seed.js';
import { loadBenchConfig } from './config.js';
import { freePort, num, progressLog, table } from './report.js';
import { ServerCpuMeter } from './server-cpu.js';
import {
  assertExact,
  type BenchEvent,
  buildCohorts,
  type Cohort,
  checkDeliveries,
} from './subscription-cohorts.js';
import {
  type BenchContext,
  clock,
  EventWriter,
  SubscriberPool,
  SubscriptionTarget,
  type WriterDecision,
} from './subscription-harness.js';
import {
  COUNT_STORM_STATEMENTS,
  runStorm,
  STORM_HEADER,
  type StormMode,
} from './subscription-storm.js';

type Transport = 'sse' | 'ws';

const setting = (name: string, fallback: string) => process.env[name]?.trim() || fallback;
const list = (name: string, fallback: string) =>
  setting(name, fallback)
    .split(',')
    .map((value) => value.trim())
    .filter(Boolean);

const counts = list('BENCH_SUBSCRIBERS', '1000,5000,10000')
  .filter((value) => value !== 'none')
  .map(Number);
const transports = list('BENCH_TRANSPORTS', 'sse,ws') as Transport[];
const eventsPerPhase = Number(setting('BENCH_EVENTS', '20'));
const cohortCount = Number(setting('BENCH_COHORTS', '10'));
const holdFrom = Number(setting('BENCH_HOLD_FROM', '20000'));
const processes = Number(setting('BENCH_CLIENT_PROCESSES', '2'));
const storms = list('BENCH_STORM', 'graceful,kill').filter((m) => m !== 'none') as StormMode[];
const stormSubscribers = Number(setting('BENCH_STORM_SUBSCRIBERS', '5000'));
if (
  counts.some((n) => !Number.isInteger(n) || n < 1 || n > 20_000) ||
  !(eventsPerPhase >= 1) ||
  transports.some((t) => t !== 'sse' && t !== 'ws') ||
  storms.some((m) => m !== 'graceful' && m !== 'kill') ||
  !(processes >= 1) ||
  !(stormSubscribers >= 1 && stormSubscribers <= 20_000)
) {
  throw new Error(
    'BENCH_SUBSCRIBERS: counts 1-20000; BENCH_EVENTS >= 1; BENCH_TRANSPORTS: sse,ws; ' +
      'BENCH_STORM: graceful,kill or none; BENCH_CLIENT_PROCESSES >= 1; BENCH_STORM_SUBSCRIBERS 1-20000',
  );
}

/** File descriptors the gateway keeps besides subscriber sockets (pool, LISTEN, stdio, ...). */
const FD_RESERVE = 64;

async function measureRow(ctx: BenchContext, transport: Transport, requested: number, cap: number) {
  const n = Math.min(requested, cap);
  const { target, pool, writer, cohorts, decisions, progress } = ctx;
  const baseline = await target.until((stats) => stats.subscribers === 0);
  progress(`${transport} ${n}: opening`);
  await pool.open(target.url, transport, cohorts, n);
  const held = await target.until((stats) => stats.subscribers === n);
  const perSub = (a: number, b: number) => num((a - b) / n / 1024);
  const memory = [
    perSub(held.heapUsedBytes, baseline.heapUsedBytes),
    perSub(held.rssBytes, baseline.rssBytes),
    num(held.rssBytes / 1048576, 0),
  ];
  const label = requested > n ? `${n} (cap)` : String(n);
  if (requested >= holdFrom) {
    await pool.close();
    return [
      transport,
      label,
      cohorts.length,
      '-',
      '-',
      '-',
      '-',
      '-',
      '-',
      '-',
      '-',
      '-',
      ...memory,
    ];
  }
  const events: BenchEvent[] = [];
  let next = 0;
  const nextDecision = () => decisions[next++ % decisions.length] as WriterDecision;

  progress(`${transport} ${n}: lockstep, ${eventsPerPhase} events`);
  const lockstepStart = clock();
  for (let i = 0; i < eventsPerPhase; i += 1) {
    const event = await writer.commit(nextDecision());
    events.push(event);
    await pool.awaitEvent(event, cohorts);
  }
  const lockstepEnd = clock();
  const lockstep = new Set(events.map((e) => e.note));

  progress(`${transport} ${n}: burst, ${eventsPerPhase} events`);
  const cpuBefore = await target.stats(false);
  await ctx.serverCpu.start();
  const burstStart = clock();
  const burst: BenchEvent[] = [];
  for (let i = 0; i < eventsPerPhase; i += 1) burst.push(await writer.commit(nextDecision()));
  for (const event of burst) await pool.awaitEvent(event, cohorts);
  const cpuAfter = await target.stats(false);
  const pgCpu = await ctx.serverCpu.stop();
  events.push(...burst);

  const report = await pool.report();
  await pool.close();
  const all = checkDeliveries(report.logs, report.cohortOf, cohorts, events, lockstep);
  assertExact(`${transport} ${n}`, all);
  const burstNotes = new Set(burst.map((e) => e.note));
  const burstCheck = checkDeliveries(report.logs, report.cohortOf, cohorts, events, burstNotes);
  const lastReceipt = Math.max(
    ...report.logs.flatMap((log) =>
      log.times.filter((_, j) => burstNotes.has(log.notes[j] as number)),
    ),
  );
  const lockstepDeliveries = all.latencies.length;
  const burstDeliveries = burstCheck.latencies.length;
  const lat = all.latencies;
  const pct = (sorted: number[], p: number) =>
    sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
  return [
    transport,
    label,
    cohorts.length,
    `${eventsPerPhase}+${eventsPerPhase}`,
    num(pct(lat, 50)),
    num(pct(lat, 99)),
    num(lat.at(-1)),
    num(lockstepDeliveries / ((lockstepEnd - lockstepStart) / 1000), 0),
    num(burstDeliveries / ((lastReceipt - burstStart) / 1000), 0),
    num(pct(burstCheck.latencies, 99)),
    num(((cpuAfter.cpuMs - cpuBefore.cpuMs) / burstDeliveries) * 1000),
    pgCpu.available ? num(pgCpu.ms, 0) : 'n/a',
    ...memory,
  ];
}

/** 500 SSE cycles: subscribe with `after:` (one replayed event), receive it, disconnect. */
async function hygiene(ctx: BenchContext): Promise<string> {
  const { target, pool, writer, cohorts } = ctx;
  const cohort = cohorts[0] as Cohort;
  const decision = ctx.decisions.find((d) => d.chips.has(cohort.chip)) as WriterDecision;
  const event = await writer.commit(decision);
  const after = encodeEventCursor((await writer.latestSeq()) - 1);
  const before = await target.until((stats) => stats.subscribers === 0);
  for (let i = 0; i < 500; i += 1) {
    await pool.open(target.url, 'sse', [cohort], 1, after);
    await pool.awaitEvent(event, [cohort]);
    await pool.close();
  }
  const afterCycles = await target.until((stats) => stats.subscribers === 0);
  return (
    `Disconnect hygiene: 500 SSE connect/receive/disconnect cycles: subscribers ` +
    `${before.subscribers} -> ${afterCycles.subscribers}, heap after GC ` +
    `${num(before.heapUsedBytes / 1048576)} -> ${num(afterCycles.heapUsedBytes / 1048576)} MiB ` +
    `(${num((afterCycles.heapUsedBytes - before.heapUsedBytes) / 1024)} KiB).`
  );
}

async function main() {
  const startedAt = performance.now();
  const progress = progressLog();
  const config = loadBenchConfig();
  const name = `${config.databaseName}_subs`;
  const databaseUrl = new URL(config.databaseUrl);
  databaseUrl.pathname = `/${name}`;
  const admin = postgres(config.adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`drop database if exists "${name}" with (force)`);
  await admin.unsafe(`create database "${name}"`);
  const handle = await openDatabase({ databaseUrl: databaseUrl.toString(), poolMax: 2 });
  await runMigrations(handle);
  await seed(handle.db);
  await handle.close();

  const sql = postgres(databaseUrl.toString(), { max: 1, onnotice: () => {} });
  const writer = new EventWriter(sql);
  const serverCpu = ServerCpuMeter.open(config.adminUrl, name);
  const cohorts = buildCohorts(cohortCount, await writer.chipsByUse());
  const chips = new Set(cohorts.map((c) => c.chip));
  const decisions = (await writer.decisions()).filter((d) =>
    [...d.chips].some((c) => chips.has(c)),
  );
  const port = await freePort();
  const pool = await SubscriberPool.start(processes);
  const ctx: BenchContext = {
    target: await SubscriptionTarget.start(databaseUrl.toString(), port),
    databaseUrl: databaseUrl.toString(),
    port,
    pool,
    writer,
    cohorts,
    decisions,
    progress,
    serverCpu,
  };
  try {
    const limits = (await ctx.target.stats(false)).openFiles;
    const cap = limits ? limits.soft - FD_RESERVE : 20_000;
    const rows: (string | number)[][] = [];
    for (const transport of transports) {
      for (const n of counts) {
        const row = await measureRow(ctx, transport, n, cap);
        progress(`row: ${row.join(' | ')}`);
        rows.push(row);
      }
    }
    progress('disconnect hygiene');
    const hygieneLine = await hygiene(ctx);
    const rowErrors = ctx.target.errors.count;
    const stormRows: (string | number)[][] = [];
    const stormFailures: string[] = [];
    for (const mode of storms) {
      for (const transport of transports) {
        progress(`storm: ${transport}, ${mode}, ${stormSubscribers} subscribers`);
        const n = Math.min(stormSubscribers, cap);
        const failuresBefore = stormFailures.length;
        try {
          const { row, failure } = await runStorm(ctx, transport, mode, n);
          progress(`storm row: ${row.join(' | ')}`);
          stormRows.push(row);
          if (failure) stormFailures.push(failure);
        } catch (error) {
          stormRows.push([transport, mode, n, 'FAILED (below)']);
          stormFailures.push(String(error));
        }
        if (stormFailures.length > failuresBefore) {
          // A gateway that never caught up may still hold subscribers: the next storm starts
          // on a fresh one.
          await pool.close().catch(() => {});
          await ctx.target.kill();
          ctx.target = await SubscriptionTarget.start(
            ctx.databaseUrl,
            ctx.port,
            COUNT_STORM_STATEMENTS,
          );
        }
      }
    }

    console.log(
      `\nSubscriptions: one gateway over PostgreSQL (${new URL(config.adminUrl).host}); ` +
        `subscribers in ${processes} separate processes; ${cohorts.length} cohorts ` +
        `(policyDecisionUpdated(filter: { chip }) on ${chips.size} chips` +
        `${cohorts.length > chips.size ? ', two selections' : ''}), each event a status change ` +
        `of one decision reaching the cohorts of its chips; one SQL writer. Lockstep: each ` +
        `event committed after the previous reached all its subscribers (latency = receipt - ` +
        `COMMIT); burst: committed back to back (deliveries/s = deliveries / (last receipt - ` +
        `first commit)). CPU over the burst. Every subscriber checked: its cohort's events, ` +
        `exactly once, in order.`,
    );
    if (limits) {
      console.log(
        `Gateway open files: soft ${limits.soft}, hard ${limits.hard}: at most ${cap} ` +
          `subscribers (${FD_RESERVE} kept for its own files); larger counts are capped ("cap").`,
      );
    }
    console.log(
      `\n${table(
        [
          'transport',
          'subscribers',
          'cohorts',
          'events',
          'p50 ms',
          'p99 ms',
          'max ms',
          'lockstep deliv/s',
          'burst deliv/s',
          'burst p99 ms',
          'gw CPU ms/1k deliv',
          'PG CPU ms',
          'heap KiB/sub',
          'RSS KiB/sub',
          'RSS MiB',
        ],
        rows,
      )}`,
    );
    console.log(
      `\nGateway lines logged at level error or above during the rows and the hygiene check: ${rowErrors}` +
        `${rowErrors ? ` (first: ${ctx.target.errors.first.join(' | ')})` : ''}.`,
    );
    console.log(`\n${hygieneLine}`);
    if (stormRows.length > 0) {
      console.log(
        '\nStorm: N subscribers holding (each opened with `after:` the newest eventCursor); the ' +
          'gateway stopped (graceful: gateway.stop(); kill: SIGKILL), events committed while it ' +
          'is down, the gateway started again on the same port (statements counted at the wire); ' +
          'every subscriber reconnects on its own (100-200 ms after its stream ended or a refused ' +
          'connection; after an error or 30 s without an answer, backing off 0.5 s x 2^k up to 8 s, ' +
          'jittered) with `after:` its last ' +
          'eventCursor. Catch-up: gateway ready -> every subscriber open again and holding every ' +
          'missed event of its cohort (checked: exactly once, in order).\n',
      );
      console.log(table(STORM_HEADER, stormRows));
      for (const failure of stormFailures) console.log(`\nFAILED: ${failure}`);
      if (stormFailures.length > 0) process.exitCode = 1;
    }
    console.log(`\nTotal run time: ${num((performance.now() - startedAt) / 1000, 0)} s.`);
  } finally {
    await ctx.target.stop().catch(() => {});
    pool.end();
    await serverCpu.close();
    await sql.end();
    await admin.unsafe(`drop database if exists "${name}" with (force)`);
    await admin.end();
  }
}

await main();
