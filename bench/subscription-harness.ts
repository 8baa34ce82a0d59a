/**
 * The processes of the subscription benchmark, seen from the parent: the forked gateway
 * (`SubscriptionTarget`, over `subscription-target.ts`), the subscriber processes
 * (`SubscriberPool`, over `subscription-clients.ts`) with subscribers spread over them round
 * robin, and the SQL writer whose commits are the events (`EventWriter`).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type postgres from 'postgres';
import type { ServerCpuMeter } from './server-cpu.js';
import type {
  ClientCommand,
  ClientReply,
  ReconnectCounts,
  SubscriberLog,
} from './subscription-clients.js';
import type { BenchEvent, Cohort } from './subscription-cohorts.js';
import type { SubscriptionTargetStats } from './subscription-target.js';

const TARGET = fileURLToPath(new URL('./subscription-target.ts', import.meta.url));
const CLIENTS = fileURLToPath(new URL('./subscription-clients.ts', import.meta.url));
const TSX = ['--import', import.meta.resolve('tsx')];

/** A pino JSON line's level and message (its error's message when it has one). */
function parseLogLine(line: string): { level: number; message: string } | undefined {
  try {
    const entry = JSON.parse(line) as { level?: number; msg?: string; err?: { message?: string } };
    if (typeof entry.level !== 'number') return undefined;
    return { level: entry.level, message: `${entry.msg}: ${entry.err?.message ?? ''}` };
  } catch {
    return undefined;
  }
}

/** Now on the clock every process shares: ms since the epoch, sub-millisecond. */
export const clock = (): number => performance.timeOrigin + performance.now();

/** Waits for the next IPC message of `type` from `child`; rejects if the child exits. */
function nextMessage<T extends { type: string }>(child: ChildProcess, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: T) => {
      if (message.type !== type) return;
      cleanup();
      resolve(message);
    };
    const onExit = (code: number | null) => {
      cleanup();
      reject(new Error(`child process exited (${code}) while waiting for "${type}"`));
    };
    const cleanup = () => {
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

/** The forked gateway. */
export class SubscriptionTarget {
  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
    /** Lines the gateway logged at level error or fatal: how many, and the first few. */
    readonly errors: { count: number; first: string[] },
  ) {}

  /**
   * Forks the gateway on `port` over `databaseUrl` (anonymous limits lifted: thousands of
   * subscribers come from one host); `countStatements`: through the counting proxy.
   */
  static async start(
    databaseUrl: string,
    port: number,
    countStatements = false,
  ): Promise<SubscriptionTarget> {
    const child = fork(TARGET, [], {
      execArgv: [
        '--expose-gc',
        // BENCH_CPU_PROF=<dir>: the gateway writes a V8 CPU profile there when it stops.
        ...(process.env.BENCH_CPU_PROF
          ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`]
          : []),
        ...TSX,
      ],
      env: {
        ...process.env,
        DATABASE_URL: databaseUrl,
        BENCH_TARGET_PORT: String(port),
        BENCH_COUNT_STATEMENTS: countStatements ? '1' : '0',
        CHIPGATE_LOG_LEVEL: 'error',
        NODE_ENV: 'production',
        CHIPGATE_ANON_RATE_LIMIT: '1000000',
        CHIPGATE_ANON_COST_LIMIT: '1000000000',
        CHIPGATE_ANON_MAX_SUBSCRIPTIONS: '100000',
      },
      stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    });
    const errors = { count: 0, first: [] as string[] };
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      const entry = parseLogLine(line);
      if (!entry || entry.level < 50) {
        if (!entry) process.stdout.write(`${line}\n`);
        return;
      }
      errors.count += 1;
      if (errors.first.length < 3) errors.first.push(entry.message.slice(0, 160));
    });
    const ready = await nextMessage<{ type: string; url: string }>(child, 'ready');
    return new SubscriptionTarget(child, ready.url, errors);
  }

  /** The target's figures; `gc: false` skips the full GC (for CPU readings). */
  stats(gc = true): Promise<SubscriptionTargetStats> {
    const reply = nextMessage<{ type: string; stats: SubscriptionTargetStats }>(
      this.child,
      'stats',
    );
    this.child.send({ type: 'stats', gc });
    return reply.then((message) => message.stats);
  }

  /** Polls the target until `check` holds (at most `timeoutMs`). */
  async until(
    check: (stats: SubscriptionTargetStats) => boolean,
    timeoutMs = 60_000,
  ): Promise<SubscriptionTargetStats> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const stats = await this.stats(false);
      if (check(stats)) return stats;
      if (performance.now() > deadline)
        throw new Error(`target stats never matched: ${JSON.stringify(stats)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Graceful stop (`gateway.stop()`), resolved when the process exited. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.send({ type: 'shutdown' });
    await exited;
  }

  /** SIGKILL, resolved when the process exited. */
  async kill(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGKILL');
    await exited;
  }
}

/** One subscriber process and the cohorts of the subscribers it holds. */
interface Member {
  child: ChildProcess;
  cohortOf: number[];
}

/** What the pool collected from all its processes. */
export interface PoolReport {
  logs: SubscriberLog[];
  cohortOf: number[];
  reconnects: ReconnectCounts;
  lastOpenAt: number;
}

/** The subscriber processes. */
export class SubscriberPool {
  private members: Member[] = [];

  private constructor(private readonly children: ChildProcess[]) {}

  /** Forks `processes` subscriber processes. */
  static async start(processes: number): Promise<SubscriberPool> {
    const children = Array.from({ length: processes }, () =>
      fork(CLIENTS, [], { execArgv: TSX, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
    );
    await Promise.all(children.map((child) => nextMessage(child, 'ready')));
    return new SubscriberPool(children);
  }

  private ask<T extends ClientReply>(child: ChildProcess, command: ClientCommand, type: string) {
    const reply = nextMessage<T>(child, type);
    child.send(command);
    return reply;
  }

  /**
   * Opens `n` subscribers, subscriber i in cohort i mod cohorts.length and in process
   * i mod processes, each with `after` when given. Throws if any failed to open.
   */
  async open(
    url: string,
    transport: 'sse' | 'ws',
    cohorts: readonly Cohort[],
    n: number,
    after?: string,
  ): Promise<void> {
    const p = this.children.length;
    this.members = this.children.map((child, c) => ({
      child,
      cohortOf: Array.from(
        { length: Math.ceil((n - c) / p) },
        (_, j) => (j * p + c) % cohorts.length,
      ),
    }));
    const replies = await Promise.all(
      this.members.map((member) =>
        this.ask<Extract<ClientReply, { type: 'opened' }>>(
          member.child,
          {
            type: 'open',
            url,
            transport,
            documents: cohorts.map((cohort) => cohort.document),
            subscribers: member.cohortOf.map((cohort) => ({ cohort, after })),
          },
          'opened',
        ),
      ),
    );
    const failed = replies.reduce((sum, reply) => sum + reply.failed, 0);
    if (failed > 0) {
      throw new Error(
        `${failed} of ${n} ${transport} subscribers failed to open: ${replies.flatMap((r) => r.samples).join('; ')}`,
      );
    }
  }

  /** Waits until every subscriber that should receive `event` received it (`timeoutMs` each). */
  async awaitEvent(event: BenchEvent, cohorts: readonly Cohort[], timeoutMs = 30_000) {
    const replies = await Promise.all(
      this.members.map((member) => {
        const count = member.cohortOf.filter((k) =>
          event.chips.has((cohorts[k] as Cohort).chip),
        ).length;
        return this.ask<Extract<ClientReply, { type: 'awaited' }>>(
          member.child,
          { type: 'await', note: event.note, count, timeoutMs },
          'awaited',
        ).then((reply) => ({ ...reply, count }));
      }),
    );
    const short = replies.filter((reply) => !reply.ok);
    if (short.length > 0) {
      throw new Error(
        `event bench ${event.note} did not reach every subscriber within ${timeoutMs} ms: ` +
          replies.map((r) => `${r.got}/${r.count}`).join(', '),
      );
    }
  }

  /** Waits until every subscriber's stream is open again; returns how many are open. */
  async awaitOpen(timeoutMs: number): Promise<number> {
    const replies = await Promise.all(
      this.members.map((member) =>
        this.ask<Extract<ClientReply, { type: 'awaited' }>>(
          member.child,
          { type: 'awaitOpen', timeoutMs },
          'awaited',
        ),
      ),
    );
    return replies.reduce((sum, reply) => sum + reply.got, 0);
  }

  /** Turns automatic reconnection (with the last `eventCursor` as `after`) on or off. */
  async reconnect(on: boolean): Promise<void> {
    await Promise.all(
      this.members.map((m) => this.ask(m.child, { type: 'reconnect', on }, 'closed')),
    );
  }

  /** Collects every subscriber's log (in pool order, with its cohort) and the counters. */
  async report(): Promise<PoolReport> {
    const replies = await Promise.all(
      this.members.map((member) =>
        this.ask<Extract<ClientReply, { type: 'report' }>>(
          member.child,
          { type: 'report' },
          'report',
        ),
      ),
    );
    const reconnects: ReconnectCounts = {
      attempts: 0,
      refused: 0,
      failed: 0,
      timedOut: 0,
      samples: [],
    };
    for (const { reconnects: r } of replies) {
      reconnects.attempts += r.attempts;
      reconnects.refused += r.refused;
      reconnects.failed += r.failed;
      reconnects.timedOut += r.timedOut;
      reconnects.samples.push(...r.samples);
    }
    return {
      logs: replies.flatMap((reply) => reply.logs),
      cohortOf: this.members.flatMap((member) => member.cohortOf),
      reconnects,
      lastOpenAt: Math.max(...replies.map((reply) => reply.lastOpenAt)),
    };
  }

  /** Closes every subscriber (client side). */
  async close(): Promise<void> {
    await Promise.all(this.members.map((m) => this.ask(m.child, { type: 'close' }, 'closed')));
    this.members = [];
  }

  /** Ends the processes. */
  end(): void {
    for (const child of this.children) child.kill();
  }
}

/** A decision the writer changes, and the chips it names. */
export interface WriterDecision {
  slug: string;
  chips: ReadonlySet<string>;
}

/** The SQL writer: each `commit` is one status change (one event), noted `bench <n>`. */
export class EventWriter {
  private written = 0;

  constructor(private readonly sql: postgres.Sql) {}

  /** Every decision that names a chip, with its chips (by slug). */
  async decisions(): Promise<WriterDecision[]> {
    const rows = await this.sql<{ slug: string; chips: string[] }[]>`
      select d.slug, array_agg(c.slug order by c.slug) as chips
      from policy_decisions d
      join policy_decision_chips l on l.decision_id = d.id
      join chips c on c.id = l.chip_id
      group by d.slug order by d.slug`;
    return rows.map((row) => ({ slug: row.slug, chips: new Set(row.chips) }));
  }

  /** Chip slugs that decisions name, most named first (ties by slug). */
  async chipsByUse(): Promise<string[]> {
    const rows = await this.sql<{ slug: string }[]>`
      select c.slug from policy_decision_chips l join chips c on c.id = l.chip_id
      group by c.slug order by count(*) desc, c.slug`;
    return rows.map((row) => row.slug);
  }

  /** The newest event's sequence number. */
  async latestSeq(): Promise<number> {
    const [row] = await this.sql<{ seq: string }[]>`
      select greatest(
        (select coalesce(max(event_seq), 0) from policy_decision_updates),
        (select coalesce(max(event_seq), 0) from demand_signals)) as seq`;
    return Number(row?.seq);
  }

  /** Commits one status change of `decision`; returns the event with its COMMIT time. */
  async commit(decision: WriterDecision): Promise<BenchEvent> {
    this.written += 1;
    const note = this.written;
    await this.sql.begin(async (tx) => {
      await tx`select set_config('chipgate.note', ${`bench ${note}`}, true)`;
      await tx`update policy_decisions
               set status = (case when status = 'SUSPENDED' then 'APPROVED' else 'SUSPENDED' end)::policy_status
               where slug = ${decision.slug}`;
    });
    return { note, chips: decision.chips, committedAt: clock() };
  }
}

/** Everything a phase needs. */
export interface BenchContext {
  target: SubscriptionTarget;
  readonly databaseUrl: string;
  readonly port: number;
  readonly pool: SubscriberPool;
  readonly writer: EventWriter;
  readonly cohorts: Cohort[];
  /** Decisions the writer cycles through (each names a cohort's chip). */
  readonly decisions: WriterDecision[];
  readonly progress: (line: string) => void;
  /** PostgreSQL CPU of the bench database's backends. */
  readonly serverCpu: ServerCpuMeter;
}
