/**
 * A gateway process for the source benchmarks (bench:sources, bench:defer): `src/server.ts` on
 * an in-memory PGlite, its Federal Register, SEC and news sources pointed at a fixture
 * upstream, with the politeness rates (5 and 10 calls/s) and the anonymous partner limits
 * lifted, since a benchmark is one client measuring the gateway.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { Upstream } from '../test/helpers/upstream.js';
import { freePort } from './report.js';

/** A running gateway process: its GraphQL URL and the process. */
export interface SourceGateway {
  url: string;
  child: ChildProcess;
}

/**
 * Starts the gateway against `upstream` with `vars` added to (or overriding) the settings above;
 * resolves once it logs that it listens, rejects with its output when it exits first.
 */
export async function startSourceGateway(
  upstream: Upstream,
  vars: Record<string, string> = {},
): Promise<SourceGateway> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'production',
      CHIPGATE_PORT: String(port),
      CHIPGATE_PGLITE_DIR: 'memory://',
      CHIPGATE_LOG_LEVEL: 'info',
      CHIPGATE_GRAPHIQL: 'false',
      CHIPGATE_FEDERAL_REGISTER_URL: `${upstream.url}/fr`,
      CHIPGATE_SEC_URL: `${upstream.url}/sec`,
      CHIPGATE_SEC_USER_AGENT: 'chipgate-bench ops@chipgate.example',
      CHIPGATE_NEWS_FEEDS: `${upstream.url}/news/chips.xml,${upstream.url}/news/policy.atom`,
      // The benchmark measures the gateway, not the politeness limits (5 and 10 calls/s).
      CHIPGATE_FEDERAL_REGISTER_RATE: '1000',
      CHIPGATE_SEC_RATE: '1000',
      CHIPGATE_NEWS_RATE: '1000',
      // Nor the partner limits of one anonymous client.
      CHIPGATE_ANON_RATE_LIMIT: '1000000',
      CHIPGATE_ANON_COST_LIMIT: '1000000000',
      ...vars,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('chipgate listening')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`gateway exited with ${code}:\n${output}`)));
  });
  return { url: `http://127.0.0.1:${port}/graphql`, child };
}

/** Stops the gateway (SIGTERM) and waits for its exit. */
export async function stopSourceGateway(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}
