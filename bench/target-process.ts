/** The driver's handle on a forked target process (`target.ts`): start, ask, stop. */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { DriverMessage, Measurement, TargetMessage, TargetOptions } from './protocol.js';

const TARGET_SCRIPT = fileURLToPath(new URL('./target.ts', import.meta.url));
const TSX_LOADER = import.meta.resolve('tsx');
const START_TIMEOUT_MS = 120_000;

/** `NODE_ENV` of the targets: the caller's, else `production` (what the Dockerfile sets). */
export const TARGET_NODE_ENV = process.env.NODE_ENV?.trim() || 'production';
const REPLY_TIMEOUT_MS = 60_000;

type Waiter = {
  type: TargetMessage['type'];
  resolve: (message: TargetMessage) => void;
  reject: (error: Error) => void;
};

/** A running target: the gateway or the floor in its own Node process. */
export class TargetProcess {
  private readonly waiters: Waiter[] = [];
  private exited = false;
  private url_ = '';

  private constructor(private readonly child: ChildProcess) {
    child.on('message', (message: TargetMessage) => this.receive(message));
    child.on('exit', (code, signal) => {
      this.exited = true;
      this.failAll(
        new Error(`target process exited (code ${code}, signal ${signal}); see its output above`),
      );
    });
    child.on('error', (error) => this.failAll(error));
  }

  /**
   * Forks `target.ts` with `options` (and extra Node flags, e.g. `--cpu-prof`) and waits until
   * it listens. Its stderr goes to ours; its stdout (the gateway's JSON logs, one line per
   * request as in production) is discarded, so writing the logs still counts in its CPU.
   */
  static async start(options: TargetOptions, execArgv: string[] = []): Promise<TargetProcess> {
    const child = fork(TARGET_SCRIPT, [JSON.stringify(options)], {
      execArgv: ['--import', TSX_LOADER, ...execArgv],
      // Production mode, as the Dockerfile runs the gateway (graphql-js skips its dev checks).
      env: { ...process.env, NODE_ENV: TARGET_NODE_ENV },
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    const target = new TargetProcess(child);
    try {
      const ready = await target.next('ready', START_TIMEOUT_MS);
      if (ready.type === 'ready') target.url_ = ready.url;
      return target;
    } catch (error) {
      target.kill();
      throw error;
    }
  }

  /** The target's GraphQL endpoint. */
  get url(): string {
    return this.url_;
  }

  /** Process id of the target. */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Starts a measurement window (counters and CPU reset). */
  async startMeasuring(): Promise<void> {
    await this.ask({ type: 'measure-start' }, 'ack');
  }

  /** Ends the window and returns what the target measured. */
  async stopMeasuring(): Promise<Measurement> {
    const reply = await this.ask({ type: 'measure-stop' }, 'measurement');
    if (reply.type !== 'measurement') throw new Error('target: unexpected reply');
    return reply.measurement;
  }

  /** Starts the in-process CPU profiler (inspector). */
  async startProfiling(): Promise<void> {
    await this.ask({ type: 'profile-start' }, 'ack');
  }

  /** Stops the profiler; the target writes the `.cpuprofile` to `file`. */
  async stopProfiling(file: string): Promise<void> {
    await this.ask({ type: 'profile-stop', file }, 'profile-written');
  }

  /** Asks the target to close its server and database and exit; kills it if it does not. */
  async stop(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    try {
      this.child.send({ type: 'shutdown' } satisfies DriverMessage);
    } catch {
      // The channel is already closed; the kill below handles it.
    }
    const timer = setTimeout(() => this.kill(), 15_000);
    await exited;
    clearTimeout(timer);
  }

  /** Kills the target at once (SIGKILL), if it still runs. */
  kill(): void {
    if (!this.exited) this.child.kill('SIGKILL');
  }

  private async ask(message: DriverMessage, reply: TargetMessage['type']): Promise<TargetMessage> {
    const answer = this.next(reply, REPLY_TIMEOUT_MS);
    this.child.send(message);
    return answer;
  }

  private next(type: TargetMessage['type'], timeoutMs: number): Promise<TargetMessage> {
    if (this.exited) return Promise.reject(new Error('target is not running'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const at = this.waiters.indexOf(waiter);
        if (at >= 0) this.waiters.splice(at, 1);
        reject(new Error(`target did not answer with "${type}" within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      const waiter: Waiter = {
        type,
        resolve: (message) => {
          clearTimeout(timer);
          resolve(message);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.waiters.push(waiter);
    });
  }

  private receive(message: TargetMessage): void {
    if (message.type === 'failed') {
      this.failAll(new Error(`target failed: ${message.message}`));
      return;
    }
    const at = this.waiters.findIndex((waiter) => waiter.type === message.type);
    if (at < 0) return;
    const [waiter] = this.waiters.splice(at, 1);
    waiter?.resolve(message);
  }

  private failAll(error: Error): void {
    for (const waiter of this.waiters.splice(0)) waiter.reject(error);
  }
}
