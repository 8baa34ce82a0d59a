/**
 * PostgreSQL CPU of the benchmark: user + system CPU time of the server backends connected to
 * the benchmark's database, read from `/proc/<pid>/stat` (utime + stime) of the backend pids
 * that `pg_stat_activity` lists for that database (client backends only: not autovacuum, nor
 * the server's background processes). The pid list is read at the start of a measurement
 * window, every `SAMPLE_MS` during it and at its end, so a connection opened during the window
 * is counted from its start and one closed during it up to its last sample. Works only when
 * the server runs on this host, in the same pid namespace (checked: every pid must be a
 * `postgres` process); otherwise the figure is reported as unavailable.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import postgres from 'postgres';

/** How often the pid list and the backends' CPU are read during a window. */
const SAMPLE_MS = 500;

/** CPU counters of one process, in clock ticks. */
export interface ProcCpu {
  /** `comm`: the executable name, e.g. `postgres`. */
  command: string;
  /** utime + stime. */
  cpuTicks: number;
  /** When the process started, in ticks since boot. */
  startTicks: number;
}

/** Parses the text of `/proc/<pid>/stat`; undefined when it is not in that format. */
export function parseProcStat(text: string): ProcCpu | undefined {
  // The command sits in parentheses and may itself hold spaces and parentheses.
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  // Fields from the third on (state, ppid, ...); utime, stime and starttime are fields 14, 15, 22.
  const fields = text
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  const start = Number(fields[19]);
  if (![utime, stime, start].every(Number.isSafeInteger)) return undefined;
  return { command: text.slice(open + 1, close), cpuTicks: utime + stime, startTicks: start };
}

/**
 * Adds up the CPU that processes spent inside one window, from readings taken during it. A
 * process seen at the window's start counts from that reading; one that started during the
 * window counts from zero; one that exited counts up to its last reading. Processes are told
 * apart by pid and start time, so a reused pid is a new process.
 */
export class CpuLedger {
  private readonly processes = new Map<string, { first: number; last: number }>();

  /** `windowStartTicks`: the window's start, in ticks since boot (as `startTicks`). */
  constructor(private readonly windowStartTicks: number) {}

  /** Records one reading of process `pid`. */
  observe(pid: number, reading: ProcCpu): void {
    const key = `${pid}@${reading.startTicks}`;
    const known = this.processes.get(key);
    if (known) {
      known.last = Math.max(known.last, reading.cpuTicks);
      return;
    }
    const bornInWindow = reading.startTicks >= this.windowStartTicks;
    this.processes.set(key, {
      first: bornInWindow ? 0 : reading.cpuTicks,
      last: reading.cpuTicks,
    });
  }

  /** CPU ticks spent in the window by every process observed. */
  get totalTicks(): number {
    let total = 0;
    for (const { first, last } of this.processes.values()) total += last - first;
    return total;
  }

  /** How many distinct processes were observed. */
  get count(): number {
    return this.processes.size;
  }
}

/** What a window measured. */
export type ServerCpu =
  | {
      available: true;
      /** CPU milliseconds (user + system) of the backends in the window. */
      ms: number;
      /** Backends observed. */
      backends: number;
      /** Backends that exited during the window (counted up to their last sample). */
      exited: number;
    }
  | { available: false; reason: string };

/** Clock ticks per second (`getconf CLK_TCK`; 100 on Linux when it cannot be asked). */
export function clockTicksPerSecond(): number {
  try {
    const value = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isInteger(value) && value > 0 ? value : 100;
  } catch {
    return 100;
  }
}

/** Reads a process's CPU from /proc; undefined when it is gone (or /proc is not there). */
function readProcCpu(pid: number): ProcCpu | undefined {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** Seconds since boot, from /proc/uptime. */
function uptimeSeconds(): number {
  return Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
}

/** Measures the CPU of the server backends serving one database, window by window. */
export class ServerCpuMeter {
  private readonly ticksPerSecond = clockTicksPerSecond();
  private ledger: CpuLedger | undefined;
  private sampler: NodeJS.Timeout | undefined;
  private sampling: Promise<void> = Promise.resolve();
  private unavailable: string | undefined;

  private constructor(
    private readonly sql: postgres.Sql,
    private readonly database: string,
  ) {}

  /**
   * Connects to the server's maintenance database `adminUrl` (so the meter's own backend is
   * not one of those measured) to watch the backends of `database`.
   */
  static open(adminUrl: string, database: string): ServerCpuMeter {
    const sql = postgres(adminUrl, { max: 1, onnotice: () => {}, connect_timeout: 10 });
    return new ServerCpuMeter(sql, database);
  }

  /** Opens a window: reads the backends' counters now and every `SAMPLE_MS` until `stop`. */
  async start(): Promise<void> {
    this.unavailable = undefined;
    try {
      this.ledger = new CpuLedger(Math.floor(uptimeSeconds() * this.ticksPerSecond));
    } catch {
      this.unavailable = '/proc is not readable here';
      return;
    }
    await this.sample();
    this.sampler = setInterval(() => {
      this.sampling = this.sampling
        .then(() => this.sample())
        .then(
          () => {},
          (error: unknown) => {
            this.unavailable ??= `reading pg_stat_activity failed: ${String(error)}`;
          },
        );
    }, SAMPLE_MS);
  }

  /** Closes the window: reads the counters a last time and returns the CPU spent in it. */
  async stop(): Promise<ServerCpu> {
    clearInterval(this.sampler);
    await this.sampling;
    const live = await this.sample();
    const ledger = this.ledger;
    if (this.unavailable || !ledger) {
      return { available: false, reason: this.unavailable ?? 'no window was started' };
    }
    return {
      available: true,
      ms: (ledger.totalTicks * 1000) / this.ticksPerSecond,
      backends: ledger.count,
      exited: ledger.count - live,
    };
  }

  /** Ends the meter's connection. */
  async close(): Promise<void> {
    clearInterval(this.sampler);
    await this.sql.end({ timeout: 5 });
  }

  /** One reading of every backend of the database; returns how many were read. */
  private async sample(): Promise<number> {
    const ledger = this.ledger;
    if (this.unavailable || !ledger) return 0;
    const rows = await this.sql<{ pid: number }[]>`
      select pid from pg_stat_activity
      where datname = ${this.database} and backend_type = 'client backend'`;
    let read = 0;
    for (const { pid } of rows) {
      const reading = readProcCpu(pid);
      if (reading === undefined) continue; // exited since the list was read
      if (reading.command !== 'postgres') {
        this.unavailable =
          `pid ${pid} of pg_stat_activity is "${reading.command}" here, ` +
          'not a postgres process (the server is not on this host)';
        return 0;
      }
      ledger.observe(pid, reading);
      read += 1;
    }
    if (rows.length > 0 && ledger.count === 0) {
      this.unavailable = 'the server backends are not visible in /proc (not on this host?)';
    }
    return read;
  }
}
