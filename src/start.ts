/**
 * `npm start`'s entry: begins opening the embedded database (its lock, the template copy of a
 * new directory, PGlite itself) and then loads the gateway (src/server.ts, about 1,100 modules:
 * the longest part of a start under tsx), so the two overlap; then runs the gateway with that
 * database. Behaves exactly like `node src/server.ts` otherwise (configuration errors, exit
 * codes, signals are server.ts'); with DATABASE_URL or `memory://` there is nothing to begin.
 */

import { type OpenedPglite, openPgliteDirectory } from './db/pglite-open.js';
import { ConfigError, loadEnv } from './env.js';

let opening: Promise<OpenedPglite> | undefined;
try {
  const env = loadEnv();
  if (!env.DATABASE_URL && !env.CHIPGATE_PGLITE_DIR.startsWith('memory://')) {
    opening = openPgliteDirectory(env.CHIPGATE_PGLITE_DIR, {
      sharedBuffers: env.CHIPGATE_PGLITE_SHARED_BUFFERS,
      templateStore: env.CHIPGATE_PGLITE_TEMPLATE_DIR,
    });
    // Its failure (e.g. the directory in use) is reported by the gateway's start-up, which
    // awaits it; until then it must not count as unhandled.
    opening.catch(() => {});
  }
} catch (error) {
  // Bad configuration: server.ts' main reports it (exit code 2).
  if (!(error instanceof ConfigError)) throw error;
}
const { main } = await import('./server.js');
await main(opening);
