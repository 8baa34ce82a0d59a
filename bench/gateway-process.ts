/**
 * A gateway process for a benchmark (`node --import tsx <entry>`) on spare ports of 127.0.0.1,
 * with its metrics on a port of their own: production mode, info logs (read off its stdout so
 * the pipe never fills), no GraphiQL, and `vars` on top (database URLs, limits, ...).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { freePort } from './report.js';

/** A running benchmark gateway. */
export interface BenchGateway {
  /** `http://127.0.0.1:<port>/graphql` */
  url: string;
  /** `http://127.0.0.1:<metrics port>/metrics` */
  metricsUrl: string;
  child: ChildProcess;
}

/** Starts the gateway (`entry`: src/start.ts, what `npm start` runs) and waits until it listens. */
export async function startBenchGateway(
  vars: Record<string, string>,
  entry = 'src/start.ts',
): Promise<BenchGateway> {
  const [port, metricsPort] = [await freePort(), await freePort()];
  const child = spawn(process.execPath, ['--import', 'tsx', entry], {
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'production',
      CHIPGATE_PORT: String(port),
      CHIPGATE_METRICS_PORT: String(metricsPort),
      CHIPGATE_LOG_LEVEL: 'info',
      CHIPGATE_GRAPHIQL: 'false',
      ...vars,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    let output = '';
    const onData = (chunk: Buffer) => {
      if (output.length < 100_000) output += chunk.toString();
      if (output.includes('chipgate listening')) {
        // The request log keeps flowing; read it so the pipe never fills.
        child.stdout?.off('data', onData);
        child.stdout?.resume();
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`gateway exited with ${code}:\n${output}`)));
  });
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
    child,
  };
}

/** SIGTERM, then waits for the process to exit. */
export async function stopBenchGateway(gateway: BenchGateway): Promise<void> {
  const exited = new Promise((resolve) => gateway.child.once('exit', resolve));
  gateway.child.kill('SIGTERM');
  await exited;
}
