/**
 * `npm run chipgate -- keys ...` as a child process against a real, seeded database (a PGlite
 * directory, or a database on the PostgreSQL server): create prints the key once on the last
 * line, list never shows it, revoke stops it at once. The keys are then used on the gateway.
 */

import { spawn } from 'node:child_process';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.js';
import { runCli } from '../src/cli.js';
import { type Database, openDatabase, queryRows } from '../src/db/client.js';
import { EventHub } from '../src/pubsub/hub.js';
import { appOn, executeOn } from './helpers/gateway.js';
import {
  type GatewayDatabase,
  gatewayDatabase,
  killChildren,
  postGraphQL,
  removeTempDirs,
  startChildGateway,
} from './helpers/server.js';

let database: GatewayDatabase;
let target: Record<string, string>;

beforeAll(async () => {
  // A seeded PGlite directory, or a database on the server.
  database = await gatewayDatabase();
  target = database.env;
});
afterAll(async () => {
  await database?.cleanup();
  removeTempDirs();
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `src/cli.ts` with `args` in a child process, as `npm run chipgate --` does. */
function chipgate(...args: string[]): Promise<Run> {
  return chipgateOn(target, args);
}

/** Runs `src/cli.ts` with `args` in a child process against the database `vars` name. */
function chipgateOn(vars: Record<string, string>, args: string[]): Promise<Run> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', ...vars };
  const child = spawn(process.execPath, ['--import', 'tsx', path.join('src', 'cli.ts'), ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Opens the CLI's database in this process (after the CLI exited: PGlite allows one holder). */
async function withGateway<T>(use: (app: App, db: Database) => Promise<T>) {
  const handle = await openDatabase({
    databaseUrl: target.DATABASE_URL,
    pgliteDir: target.CHIPGATE_PGLITE_DIR,
    poolMax: 2,
  });
  const events = await EventHub.start(handle, { maxQueue: 10 });
  const app = appOn(handle, events);
  try {
    return await use(app, handle.db);
  } finally {
    await events.close();
    await app.yoga.dispose();
    await handle.close();
  }
}

const UPSERT = /* GraphQL */ `
  mutation ($input: UpsertCompanyInput!) {
    upsertCompany(input: $input) { __typename ... on UpsertCompanySuccess { company { slug } } }
  }`;
const upsert = (app: App, key: string) =>
  executeOn(
    app,
    UPSERT,
    {
      input: {
        slug: 'cli-key-co',
        name: 'CLI',
        country: 'US',
        roles: ['BUYER'],
        confidence: 'RECALLED',
      },
    },
    { authorization: `Bearer ${key}` },
  );

const KEY_LINE = /^cg_[A-Za-z0-9_-]{43}$/;

describe('keys command line', () => {
  it('creates, lists and revokes keys that the gateway honours', async () => {
    const created = await chipgate('keys', 'create', '--name', 'ci writer', '--scope', 'write');
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    const lines = created.stdout.trimEnd().split('\n');
    const writeKey = lines.at(-1) as string;
    expect(writeKey).toMatch(KEY_LINE);
    // Printed once, and nowhere but the last line.
    expect(created.stdout.split(writeKey)).toHaveLength(2);
    expect(lines[0]).toMatch(/^Created API key \d+ "ci writer" \(scopes: write\)/);
    const writeId = Number(/API key (\d+)/.exec(lines[0] ?? '')?.[1]);

    const readOnly = await chipgate('keys', 'create', '--scope', 'read', '--name', 'dashboard');
    expect(readOnly.code).toBe(0);
    const readKey = readOnly.stdout.trimEnd().split('\n').at(-1) as string;
    expect(readKey).toMatch(KEY_LINE);
    expect(readKey).not.toBe(writeKey);

    const listed = await chipgate('keys', 'list');
    expect(listed.code).toBe(0);
    const table = listed.stdout.trimEnd().split('\n');
    expect(table[0]).toMatch(
      /^ID\s+NAME\s+PREFIX\s+SCOPES\s+CREATED\s+LAST USED\s+REVOKED\s+RATE\/MIN\s+COST\/MIN\s+SUBS\s+PERSISTED ONLY$/,
    );
    const writerRow = table.find((line) => line.includes('ci writer')) ?? '';
    expect(writerRow).toMatch(
      new RegExp(
        `^${writeId}\\s+ci writer\\s+${writeKey.slice(0, 10)}\\s+write\\s+\\d{4}-\\d\\d-\\d\\dT\\S+\\s+-\\s+-\\s+default\\s+default\\s+default\\s+no$`,
      ),
    );
    expect(table.find((line) => line.includes('dashboard'))).toMatch(/\sread\s/);
    for (const key of [writeKey, readKey]) expect(listed.stdout).not.toContain(key.slice(10));

    await withGateway(async (app, db) => {
      const ok = await upsert(app, writeKey);
      expect(ok.errors).toBeUndefined();
      expect(ok.data.upsertCompany.__typename).toBe('UpsertCompanySuccess');
      const forbidden = await upsert(app, readKey);
      expect(forbidden.errors?.map((e) => e.extensions?.code)).toEqual(['FORBIDDEN']);
      const [hashes] = await queryRows<{ n: number }>(
        db,
        sql`select count(*)::int as n from api_keys where key_hash ~ '^[0-9a-f]{64}$'`,
      );
      expect(hashes?.n).toBe(2);
    });

    const lastUsed = (await chipgate('keys', 'list')).stdout
      .split('\n')
      .find((line) => line.includes('ci writer'));
    expect(lastUsed).toMatch(
      /\s\d{4}-\d\d-\d\dT\S+\s+\d{4}-\d\d-\d\dT\S+\s+-\s+default\s+default\s+default\s+no$/,
    );

    const revoke = await chipgate('keys', 'revoke', String(writeId));
    expect(revoke).toMatchObject({ code: 0, stdout: `Revoked API key ${writeId}.\n` });
    const again = await chipgate('keys', 'revoke', String(writeId));
    expect(again).toMatchObject({ code: 0, stdout: `API key ${writeId} was already revoked.\n` });
    const missing = await chipgate('keys', 'revoke', '999999');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no API key with id 999999/);

    await withGateway(async (app) => {
      const refused = await upsert(app, writeKey);
      expect(refused.status).toBe(401);
      expect(refused.errors?.map((e) => e.extensions?.code)).toEqual(['UNAUTHENTICATED']);
    });
    const revokedRow = (await chipgate('keys', 'list')).stdout
      .split('\n')
      .find((line) => line.includes('ci writer'));
    expect(revokedRow).toMatch(/\s\d{4}-\d\d-\d\dT\S+\s+default\s+default\s+default\s+no$/);
  }, 120_000);

  it('refuses bad usage with exit code 2 and says why, writing nothing', async () => {
    // In process: the same runCli the child runs, without a process start per case.
    const out: string[] = [];
    const err: string[] = [];
    const cli = (args: string[]) =>
      runCli(
        args,
        target,
        (line) => out.push(line),
        (line) => err.push(line),
      );
    const cases: [string[], RegExp][] = [
      [['keys', 'create', '--name', 'x', '--scope', 'admin'], /unknown scope "admin"/],
      [['keys', 'create', '--scope', 'write'], /needs --name/],
      [['keys', 'create', '--name', 'x'], /needs at least one --scope/],
      [['keys', 'create', '--name', '  ', '--scope', 'write'], /--name must be 1 to 200/],
      [['keys', 'create', '--name'], /takes --name NAME and --scope SCOPE/],
      [['keys', 'create', '--name', 'a', '--name', 'b', '--scope', 'read'], /give --name once/],
      [['keys', 'revoke', 'abc'], /takes one key id/],
      [['keys', 'revoke'], /takes one key id/],
      [['keys', 'list', 'extra'], /takes no arguments/],
      [['keys', 'rotate'], /unknown keys command "rotate"/],
      [
        ['keys', 'create', '--name', 'x', '--scope', 'read', '--rate-limit', '0'],
        /--rate-limit takes requests per minute, a whole number from 1/,
      ],
      [
        ['keys', 'create', '--name', 'x', '--scope', 'read', '--cost-limit', 'default'],
        /--cost-limit takes query cost per minute/,
      ],
      [['keys', 'update', '1'], /"keys update" needs at least one change/],
      [['keys', 'update', '1', '--max-subscriptions', '-1'], /--max-subscriptions takes/],
      [['keys', 'update', 'x', '--rate-limit', '5'], /"keys update" takes a key id/],
      [['keys', 'usage', '1', '--days', '0'], /--days N \(1-366, default 7\)/],
      [['documents', 'add'], /"documents add" takes \[--key ID\] and one manifest file/],
      [['documents', 'remove', 'abc'], /takes one document hash/],
    ];
    expect(await cli(['keys', 'list'])).toBe(0);
    const before = out.splice(0);
    for (const [args, message] of cases) {
      expect(await cli(args), args.join(' ')).toBe(2);
      expect(err.splice(0).join('\n')).toMatch(message);
    }
    expect(out).toEqual([]);
    expect(await cli(['keys', 'list'])).toBe(0);
    expect(out).toEqual(before);
  });
});

describe('keys on the gateway process, over a real socket', () => {
  afterAll(killChildren);

  it('a key from the command line writes through HTTP; bad keys get 401; nothing logs a key', async () => {
    const database = await gatewayDatabase();
    try {
      const created = await chipgateOn(database.env, [
        'keys',
        'create',
        '--name',
        'http',
        '--scope',
        'write',
      ]);
      expect(created.code).toBe(0);
      const key = created.stdout.trimEnd().split('\n').at(-1) as string;
      expect(key).toMatch(KEY_LINE);

      const origin = 'https://dash.example.com';
      const gateway = await startChildGateway({
        ...database.env,
        CHIPGATE_LOG_LEVEL: 'trace',
        CHIPGATE_CORS_ORIGINS: origin,
      });
      try {
        // A browser on a configured origin may send the header.
        const preflight = await fetch(gateway.url, {
          method: 'OPTIONS',
          headers: {
            origin,
            'access-control-request-method': 'POST',
            'access-control-request-headers': 'authorization, content-type',
          },
          signal: AbortSignal.timeout(10_000),
        });
        expect(preflight.status).toBeLessThan(300);
        expect(preflight.headers.get('access-control-allow-headers')).toMatch(/authorization/);

        const input = {
          slug: 'http-co',
          name: 'HTTP Co',
          country: 'US',
          roles: ['BUYER'],
          confidence: 'RECALLED',
        };
        const ok = await postGraphQL(
          gateway.url,
          UPSERT,
          { input },
          { authorization: `Bearer ${key}` },
        );
        expect(ok.status).toBe(200);
        expect(ok.body).toEqual({
          data: {
            upsertCompany: { __typename: 'UpsertCompanySuccess', company: { slug: 'http-co' } },
          },
        });

        const anonymous = await postGraphQL(gateway.url, UPSERT, { input });
        expect(anonymous.body.errors.map((e: any) => e.extensions.code)).toEqual([
          'UNAUTHENTICATED',
        ]);
        const wrong = await postGraphQL(
          gateway.url,
          '{ __typename }',
          {},
          {
            authorization: `Bearer ${key.slice(0, -1)}${key.endsWith('A') ? 'B' : 'A'}`,
          },
        );
        expect(wrong.status).toBe(401);
        expect(wrong.body.errors.map((e: any) => e.extensions.code)).toEqual(['UNAUTHENTICATED']);
      } finally {
        expect((await gateway.stop()).code).toBe(0);
      }
      const log = JSON.stringify(gateway.logs) + gateway.stderr();
      expect(gateway.logs.length).toBeGreaterThan(2);
      expect(log).not.toContain(key.slice(3, 40));
      expect(log.toLowerCase()).not.toContain('bearer');
    } finally {
      await database.cleanup();
    }
  }, 120_000);
});
