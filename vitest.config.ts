import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { defineConfig, type UserWorkspaceConfig } from 'vitest/config';
import { e2eTestFiles } from './test/projects.js';

const require = createRequire(import.meta.url);
const root = fileURLToPath(new URL('.', import.meta.url));

// What both projects share. Not `extends: true`: the root's globalSetup must run once per run,
// not once per project (the root project always runs it; both projects read what it provides).
const shared = {
  resolve: {
    // graphql 16 ships ESM (index.mjs) and CJS (index.js). Node loads the CJS build for our
    // dependencies; vite would pick the ESM build for our own code. Two copies of graphql
    // cannot share a schema, so everything gets the one Node loads.
    alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }],
  },
  test: {
    // Loading a PGlite template or creating a database takes a second or two on a shared
    // 2-core machine; a cold PGlite start with migrations about 5 s.
    hookTimeout: 60_000,
    testTimeout: 30_000,
    pool: 'forks',
  },
} satisfies UserWorkspaceConfig;

// Test files that import a socket or process helper (see test/projects.ts for the rule).
const e2e = e2eTestFiles(root);

// One test body, two backends: without DATABASE_URL every test file gets its own PGlite
// (loaded from a template migrated and seeded once per run); with DATABASE_URL every test
// file gets its own database on that server (created from a template database).
// Two projects: `unit` (the gateway in process, `yoga.fetch`; `npm run test:unit`) and `e2e`
// (real sockets, child processes, Chromium, private clusters; `npm run test:e2e`).
// `npm test` runs both.
export default defineConfig({
  ...shared,
  test: {
    globalSetup: ['test/global-setup.ts'],
    teardownTimeout: 30_000,
    // A missing snapshot fails the run, locally as under CI=true (vitest's default writes it
    // and passes). Write or update snapshots on purpose with `npx vitest run -u`.
    update: 'none',
    // An error thrown outside any test (a driver's timer, a stray rejection) fails the run even
    // when every test passed: in the gateway it would end the process. Vitest's default, stated.
    dangerouslyIgnoreUnhandledErrors: false,
    projects: [
      {
        ...shared,
        test: { ...shared.test, name: 'unit', include: ['test/**/*.test.ts'], exclude: e2e },
      },
      { ...shared, test: { ...shared.test, name: 'e2e', include: e2e } },
    ],
  },
});
