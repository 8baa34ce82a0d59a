/**
 * Vitest fixtures (`test.extend`) for in-process gateway tests, after The Guild's Hive console
 * (`integration-tests/testkit/test.ts`): a test names what it needs and gets it, set up on
 * first use and torn down after the file, instead of `let` bindings filled in `beforeAll`.
 *
 *     import { test } from './helpers/fixtures.js';
 *     test('reads', async ({ gateway, reader }) => { ... });
 *
 * Every fixture is file-scoped: one gateway (one test database) per file, as before, shared by
 * the file's tests in order. A file that needs other gateway options says so once, at its top:
 *
 *     test.override('gatewayOptions', { planner: 'off' });
 *
 * A fixture is set up inside the first test (or `test.beforeAll`) that names it, within that
 * test's timeout (30 s; a gateway takes 1-9 s on a loaded 2-core machine). A file that seeds rows
 * for all its tests does so in `test.beforeAll(async ({ gateway }) => ...)`.
 *
 * `upstream` is the fixture upstream (`helpers/upstream.ts`), started on first use, reset after
 * every test that used it.
 */
import { test as base } from 'vitest';
import { createTestGateway, type TestGateway } from './gateway.js';
import { createKey, type TestKey } from './keys.js';
import { startUpstream, type Upstream } from './upstream.js';

/** `createTestGateway`'s options (limits, planner, access, sources, ...). */
export type GatewayOptions = NonNullable<Parameters<typeof createTestGateway>[0]>;

/**
 * The fixtures: `gatewayOptions` (default `{}`), `gateway` (a `TestGateway` over a fresh test
 * database), `upstream` (the fixture upstream, started on first use), and API keys stored in
 * the gateway's database: `reader` (scope `read`), `writer` (scope `write`).
 */
export const test = base
  .extend('gatewayOptions', { scope: 'file' }, {} as GatewayOptions)
  // biome-ignore lint/correctness/noEmptyPattern: vitest reads a fixture's dependencies from its first parameter, which must be a destructuring pattern.
  .extend('upstreamServer', { scope: 'file' }, async ({}, { onCleanup }) => {
    const upstream: Upstream = await startUpstream();
    onCleanup(() => upstream.close());
    return upstream;
  })
  .extend('upstream', async ({ upstreamServer }, { onCleanup }) => {
    // Every test starts from a well-behaved upstream with no calls counted.
    onCleanup(() => upstreamServer.reset());
    return upstreamServer;
  })
  .extend('gateway', { scope: 'file' }, async ({ gatewayOptions }, { onCleanup }) => {
    const gateway: TestGateway = await createTestGateway(gatewayOptions);
    onCleanup(() => gateway.close());
    return gateway;
  })
  .extend('reader', { scope: 'file' }, async ({ gateway }): Promise<TestKey> => {
    return createKey(gateway.database.db, ['read'], 'reader');
  })
  .extend('writer', { scope: 'file' }, async ({ gateway }): Promise<TestKey> => {
    return createKey(gateway.database.db, ['write'], 'writer');
  });

export { describe, expect } from 'vitest';
