/**
 * `npm run bench:subscriptions`: live-update fan-out on one gateway instance over PostgreSQL.
 *
 * 1. Creates its own database on the server (`<BENCH_DATABASE>_subs`), migrated and seeded.
 * 2. Forks the gateway (`subscription-target.ts`: `startGateway` with `--expose-gc`).
 * 3. For each N in BENCH_SUBSCRIBERS (default 100,1000): opens N SSE subscribers to
 *    `policyDecisionUpdated(filter: { chip: "h200" })` selecting fields of the update and its
 *    decision; measures the gateway's heap and RSS per subscriber (after a full GC); then one
 *    writer commits BENCH_EVENTS status changes through plain SQL, one at a time, each after
 *    every subscriber received the previous one. Delivery latency = receipt at the subscriber
 *    minus the writer's COMMIT returning (same clock, this process).
 * 4. Disconnect hygiene: 500 connect/receive/disconnect cycles, then the subscriber count and
 *    the heap growth after a full GC.
 * Prints one table. Settings: DATABASE_URL (server; default 127.0.0.1:5432), BENCH_DATABASE,
 * BENCH_SUBSCRIBERS, BENCH_EVENTS.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { openDatabase } from '../src/db/client.js';
import { runMigrations } from '../src/db/migrate.js';
import { seed } from '../src/db/seed.js';
import { encodeEventCursor } from '../src/schema/node.js';
import { loadBenchConfig } from './config.js';
import { num, table } from './report.js';
import type { SubscriptionTargetStats } from './subscription-target.js';

const TARGET = fileURLToPath(new URL('./subscription-target.ts', import.meta.url));
const DECISION = 'us-whitehouse-2025-12-08-h200-approval';
const SUBSCRIPTION = /* GraphQL */ `
  subscription Bench($after: String) {
    policyDecisionUpdated(filter: { chip: "h200" }, after: $after) {
      id toStatus note occurredAt eventCursor
      decision { slug title status chips { chip { slug } effect } }
    }
  }
`;

const counts = (process.env.BENCH_SUBSCRIBERS?.trim() || '100,1000')
  .split(',')
  .map((value) => Number(value.trim()));
const eventsPerRun = Number(process.env.BENCH_EVENTS?.trim() || 20);
if (counts.some((n) => !Number.isInteger(n) || n < 1 || n > 20_000) || !(eventsPerRun >= 1)) {
  throw new Error('BENCH_SUBSCRIBERS: comma-separated counts 1-20000; BENCH_EVENTS: at least 1');
}

/** One SSE subscriber: records when each event (by its note) arrived. */
class Subscriber {
  readonly received = new Map<string, number>();
  private readonly abort = new AbortController();
  private readonly listeners = new Set<() => void>();
  done: Promise<void> = Promise.resolve();

  async open(url: string, variables: Record<string, unknown> = {}): Promise<void> {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: SUBSCRIPTION, variables }),
      signal: this.abort.signal,
    });
    if (response.status !== 200 || !response.body) throw new Error(`SSE status ${response.status}`);
    const body = response.body as unknown as AsyncIterable<Uint8Array>;
    this.done = (async () => {
      const decoder = new TextDecoder();
      let buffer = '';
      for await (const chunk of body) {
        const now = performance.now();
        buffer += decoder.decode(chunk, { stream: true });
        let end = buffer.indexOf('\n\n');
        while (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (data && block.startsWith('event: next')) {
            const note = JSON.parse(data)?.data?.policyDecisionUpdated?.note;
            if (typeof note === 'string') this.received.set(note, now);
          }
          end = buffer.indexOf('\n\n');
        }
        for (const listener of this.listeners) listener();
      }
    })().catch(() => {});
  }

  /** Resolves when the event with `note` arrived (rejects after 30 s). */
  waitFor(note: string): Promise<void> {
    if (this.received.has(note)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.listeners.delete(check);
        reject(new Error(`subscriber did not receive ${note} within 30 s`));
      }, 30_000);
      const check = () => {
        if (!this.received.has(note)) return;
        clearTimeout(timer);
        this.listeners.delete(check);
        resolve();
      };
      this.listeners.add(check);
    });
  }

  async close(): Promise<void> {
    this.abort.abort();
    await this.done;
  }
}

/** The forked gateway. */
class Target {
  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
  ) {}

  static async start(databaseUrl: string): Promise<Target> {
    const child = fork(TARGET, [], {
      execArgv: ['--expose-gc', '--import', import.meta.resolve('tsx')],
      env: {
        ...process.env,
        DATABASE_URL: databaseUrl,
        CHIPGATE_LOG_LEVEL: 'warn',
        NODE_ENV: 'production',
        // Thousands of subscribers from one address: lift the anonymous partner limits.
        CHIPGATE_ANON_RATE_LIMIT: '1000000',
        CHIPGATE_ANON_COST_LIMIT: '1000000000',
        CHIPGATE_ANON_MAX_SUBSCRIPTIONS: '100000',
      },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const url = await new Promise<string>((resolve, reject) => {
      child.once('message', (message: { type: string; url: string }) => resolve(message.url));
      child.once('exit', (code) => reject(new Error(`gateway exited with code ${code}`)));
    });
    return new Target(child, url);
  }

  stats(): Promise<SubscriptionTargetStats> {
    return new Promise((resolve) => {
      const onMessage = (message: { type: string; stats: SubscriptionTargetStats }) => {
        if (message.type !== 'stats') return;
        this.child.off('message', onMessage);
        resolve(message.stats);
      };
      this.child.on('message', onMessage);
      this.child.send({ type: 'stats' });
    });
  }

  /** Polls the target until `check` holds (at most 30 s). */
  async until(
    check: (stats: SubscriptionTargetStats) => boolean,
  ): Promise<SubscriptionTargetStats> {
    const deadline = performance.now() + 30_000;
    for (;;) {
      const stats = await this.stats();
      if (check(stats)) return stats;
      if (performance.now() > deadline)
        throw new Error(`target stats never matched: ${JSON.stringify(stats)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async stop(): Promise<void> {
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.send({ type: 'shutdown' });
    await exited;
  }
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function openAll(url: string, n: number): Promise<Subscriber[]> {
  const subscribers: Subscriber[] = [];
  for (let i = 0; i < n; i += 50) {
    const batch = Array.from({ length: Math.min(50, n - i) }, () => new Subscriber());
    await Promise.all(batch.map((subscriber) => subscriber.open(url)));
    subscribers.push(...batch);
  }
  return subscribers;
}

async function main() {
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

  const writer = postgres(databaseUrl.toString(), { max: 1, onnotice: () => {} });
  const target = await Target.start(databaseUrl.toString());
  const rows: (string | number)[][] = [];
  let written = 0;
  try {
    const baseline = await target.until((stats) => stats.subscribers === 0);
    for (const n of counts) {
      const subscribers = await openAll(target.url, n);
      const withSubscribers = await target.until((stats) => stats.subscribers === n);
      const latencies: number[] = [];
      const started = performance.now();
      for (let i = 0; i < eventsPerRun; i += 1) {
        written += 1;
        const note = `bench ${written}`;
        await writer.begin(async (tx) => {
          await tx`select set_config('chipgate.note', ${note}, true)`;
          await tx`update policy_decisions set status = ${written % 2 ? 'SUSPENDED' : 'APPROVED'}
                   where slug = ${DECISION}`;
        });
        const committed = performance.now();
        await Promise.all(subscribers.map((subscriber) => subscriber.waitFor(note)));
        for (const subscriber of subscribers) {
          latencies.push(Math.max(0, (subscriber.received.get(note) ?? committed) - committed));
        }
      }
      const seconds = (performance.now() - started) / 1000;
      latencies.sort((a, b) => a - b);
      await Promise.all(subscribers.map((subscriber) => subscriber.close()));
      await target.until((stats) => stats.subscribers === 0);
      rows.push([
        n,
        eventsPerRun,
        num(percentile(latencies, 50)),
        num(percentile(latencies, 99)),
        num(latencies.at(-1)),
        num((eventsPerRun * n) / seconds, 0),
        num((withSubscribers.heapUsedBytes - baseline.heapUsedBytes) / n / 1024),
        num((withSubscribers.rssBytes - baseline.rssBytes) / n / 1024),
      ]);
    }

    // Disconnect hygiene: each cycle receives one replayed event before it disconnects.
    const [latest] = await writer<{ seq: string }[]>`
      select max(event_seq) as seq from policy_decision_updates`;
    const after = encodeEventCursor(Number(latest?.seq) - 1);
    const before = await target.until((stats) => stats.subscribers === 0);
    for (let i = 0; i < 500; i += 1) {
      const subscriber = new Subscriber();
      await subscriber.open(target.url, { after });
      await subscriber.waitFor(`bench ${written}`);
      await subscriber.close();
    }
    const afterCycles = await target.until((stats) => stats.subscribers === 0);

    console.log(
      `\nSubscriptions: one gateway over PostgreSQL (${new URL(config.adminUrl).host}), SSE ` +
        `subscribers on policyDecisionUpdated(filter: { chip: "h200" }), one SQL writer, ` +
        `${eventsPerRun} events per run, each after the previous reached every subscriber.\n`,
    );
    console.log(
      table(
        [
          'subscribers',
          'events',
          'latency p50 ms',
          'p99 ms',
          'max ms',
          'deliveries/s',
          'heap KiB/sub',
          'RSS KiB/sub',
        ],
        rows,
      ),
    );
    console.log(
      `\nDisconnect hygiene: 500 SSE connect/receive/disconnect cycles: subscribers ` +
        `${before.subscribers} -> ${afterCycles.subscribers}, heap after GC ` +
        `${num(before.heapUsedBytes / 1048576)} -> ${num(afterCycles.heapUsedBytes / 1048576)} MiB ` +
        `(${num((afterCycles.heapUsedBytes - before.heapUsedBytes) / 1024)} KiB).`,
    );
  } finally {
    await target.stop().catch(() => {});
    await writer.end();
    await admin.unsafe(`drop database if exists "${name}" with (force)`);
    await admin.end();
  }
}

await main();
