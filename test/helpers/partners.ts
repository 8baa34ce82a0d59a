/**
 * What the partner-access tests share: the fixtures plus four read keys, `READ`, an in-process
 * POST returning the raw response, and the statements a gateway sent besides authentication.
 * Each test file sets its own `gatewayOptions` (access config, clock) with `test.override`.
 */
import { sql } from 'drizzle-orm';
import { test as base } from './fixtures.js';
import type { TestGateway } from './gateway.js';
import { createKey, type TestKey } from './keys.js';

/**
 * The shared fixtures plus the partner tests' read keys: `limited` (5 requests a minute), `other` (no
 * limits of its own), `costly` (a cost limit of 60,000 a minute) and `persisted` (persisted
 * documents only).
 */
export const test = base
  .extend('limited', { scope: 'file' }, async ({ gateway }): Promise<TestKey> => {
    const key = await createKey(gateway.database.db, ['read'], 'five a minute');
    await gateway.database.db.execute(sql`update api_keys set rate_limit = 5 where id = ${key.id}`);
    return key;
  })
  .extend('other', { scope: 'file' }, async ({ gateway }): Promise<TestKey> => {
    return createKey(gateway.database.db, ['read'], 'unaffected');
  })
  .extend('costly', { scope: 'file' }, async ({ gateway }): Promise<TestKey> => {
    const key = await createKey(gateway.database.db, ['read'], 'cost limited');
    // The reference query at first: 50 costs 47,351 on the seed data: one fits, two do not.
    await gateway.database.db.execute(
      sql`update api_keys set cost_limit = 60000 where id = ${key.id}`,
    );
    return key;
  })
  .extend('persisted', { scope: 'file' }, async ({ gateway }): Promise<TestKey> => {
    const key = await createKey(gateway.database.db, ['read'], 'persisted only');
    await gateway.database.db.execute(
      sql`update api_keys set persisted_only = true where id = ${key.id}`,
    );
    return key;
  });

/** A small read every key may run. */
export const READ = '{ company(slug: "nvidia") { name } }';

/** POSTs in process to `gateway`, returning the raw response (status, headers). */
export async function post(
  gateway: TestGateway,
  body: Record<string, unknown>,
  headers: Record<string, string> = {},
) {
  const response = await gateway.app.yoga.fetch('http://chipgate.test/graphql', {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json',
      ...headers,
    },
    body: JSON.stringify(body),
  });
  return {
    status: response.status,
    headers: response.headers,
    body: (await response.json()) as any,
  };
}

/** The statements `gateway` sent that are not the API-key lookup (authentication) or its touch. */
export const nonAuthStatements = (gateway: TestGateway) =>
  gateway.statements.statements.filter((statement) => !/"api_keys"|api_keys/.test(statement));
