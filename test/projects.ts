/**
 * Which vitest project a test file belongs to, decided by what the file imports (so a new test
 * file lands in the right project without anyone keeping a list):
 * - `e2e`: the file reaches the gateway or other servers over real sockets or processes: it
 *   imports one of `E2E_IMPORTS` (the socket/process test helpers, the server entry point,
 *   child processes, raw HTTP/TCP, WebSocket/SSE clients, Redis, Chromium).
 * - `unit`: everything else: the gateway in process (`yoga.fetch`, see `helpers/gateway.ts`),
 *   its database, and the in-process fixture upstream (`helpers/upstream.ts`) its sources call.
 *
 * `npx vitest list --project e2e --filesOnly` prints the result.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Import specifiers that make a test file an e2e test. Relative helpers are named as test files
 * import them (`./helpers/x.js`); `../src/server.js` is the listening server.
 */
export const E2E_IMPORTS: readonly string[] = [
  './helpers/server.js',
  './helpers/cluster.js',
  './helpers/redis.js',
  './helpers/tcp-proxy.js',
  './helpers/static-site.js',
  '../src/server.js',
  '../src/redis.js',
  'node:child_process',
  'node:http',
  'node:net',
  'playwright-core',
  'ws',
  'graphql-ws',
  'graphql-sse',
  'ioredis',
];

const IMPORT = /(?:^|\n)\s*(?:import|export)\b[^'"]*?\bfrom\s+['"]([^'"]+)['"]/g;

/** The module specifiers a TypeScript source imports statically (`import ... from '...'`). */
export function importsOf(source: string): string[] {
  return [...source.matchAll(IMPORT)].map((match) => match[1] as string);
}

/** Whether a test file's source makes it an e2e test (see `E2E_IMPORTS`). */
export function isE2e(source: string): boolean {
  return importsOf(source).some((specifier) => E2E_IMPORTS.includes(specifier));
}

/**
 * The e2e test files under `dir` (`*.test.ts`, any depth), as paths relative to `root` with
 * forward slashes, sorted: the `include` list of the e2e project and the `exclude` list of the
 * unit project.
 */
export function e2eTestFiles(root: string, dir = 'test'): string[] {
  const base = path.join(root, dir);
  return readdirSync(base, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.test.ts'))
    .filter((file) => isE2e(readFileSync(path.join(base, file), 'utf8')))
    .map((file) => path.posix.join(dir, file.split(path.sep).join('/')))
    .sort();
}
