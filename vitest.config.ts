import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

// One test body, two backends: without DATABASE_URL every test file gets its own PGlite
// (loaded from a template migrated and seeded once per run); with DATABASE_URL every test
// file gets its own database on that server (created from a template database).
export default defineConfig({
  resolve: {
    // graphql 16 ships ESM (index.mjs) and CJS (index.js). Node loads the CJS build for our
    // dependencies; vite would pick the ESM build for our own code. Two copies of graphql
    // cannot share a schema, so everything gets the one Node loads.
    alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }],
  },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    // Loading a PGlite template or creating a database takes a second or two on a shared
    // 2-core machine; a cold PGlite start with migrations about 5 s.
    hookTimeout: 60_000,
    testTimeout: 30_000,
    teardownTimeout: 30_000,
    pool: 'forks',
    // An error thrown outside any test (a driver's timer, a stray rejection) fails the run even
    // when every test passed: in the gateway it would end the process. Vitest's default, stated.
    dangerouslyIgnoreUnhandledErrors: false,
  },
});
