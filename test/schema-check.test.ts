/**
 * `npm run schema:check`: a removed field that a registered trusted document uses fails the
 * check and names the document; an added field passes.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Kind, parse, print } from 'graphql';
import { afterAll, describe, expect, it } from 'vitest';
import { documentHash } from '../src/access/documents.js';
import { openDatabase } from '../src/db/client.js';
import { insertTrustedDocuments } from '../src/db/trusted-documents.js';
import { runSchemaCheck } from '../src/schema/check.js';
import { printedSchema } from '../src/schema/print.js';
import {
  type GatewayDatabase,
  gatewayDatabase,
  killChildren,
  makeTempDir,
  removeTempDirs,
  startChildGateway,
} from './helpers/server.js';

const databases: GatewayDatabase[] = [];
afterAll(async () => {
  await killChildren();
  for (const database of databases) await database.cleanup();
  removeTempDirs();
});

/** The committed SDL with Query's fields changed by `edit`, written to a temporary file. */
function oldSchemaFile(edit: (fields: any[]) => any[]): string {
  const document = parse(printedSchema());
  const definitions = document.definitions.map((definition) =>
    definition.kind === Kind.OBJECT_TYPE_DEFINITION && definition.name.value === 'Query'
      ? { ...definition, fields: edit([...(definition.fields ?? [])]) }
      : definition,
  );
  const file = path.join(makeTempDir('chipgate-schema-'), 'old.graphql');
  writeFileSync(file, print({ ...document, definitions }));
  return file;
}

async function run(args: string[], env: Record<string, string>) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runSchemaCheck(
    args,
    env,
    (l) => out.push(l),
    (l) => err.push(l),
  );
  return { code, out, err };
}

describe('schema:check', () => {
  it('fails on a removed field that a registered document uses, and lists that document', async () => {
    const legacy = 'query Legacy { legacyChips { slug } }';
    const current = 'query Current { chip(slug: "h200") { name } }';
    const database = await gatewayDatabase();
    databases.push(database);
    const handle = await openDatabase({
      databaseUrl: database.env.DATABASE_URL,
      pgliteDir: database.env.CHIPGATE_PGLITE_DIR,
      poolMax: 2,
    });
    try {
      // Registered while the old schema had `legacyChips`.
      await insertTrustedDocuments(
        handle.db,
        [
          { hash: documentHash(legacy), document: legacy, cost: null },
          { hash: documentHash(current), document: current, cost: 2 },
        ],
        null,
      );
    } finally {
      await handle.close();
    }
    const withLegacy = oldSchemaFile((fields) => [
      ...fields,
      {
        kind: Kind.FIELD_DEFINITION,
        name: { kind: Kind.NAME, value: 'legacyChips' },
        arguments: [],
        type: {
          kind: Kind.NON_NULL_TYPE,
          type: {
            kind: Kind.LIST_TYPE,
            type: {
              kind: Kind.NON_NULL_TYPE,
              type: { kind: Kind.NAMED_TYPE, name: { kind: Kind.NAME, value: 'Chip' } },
            },
          },
        },
      },
    ]);
    const failed = await run([withLegacy], database.env);
    expect(failed.code).toBe(1);
    expect(failed.out[0]).toMatch(/: 1 breaking, 0 dangerous, 0 safe change\(s\)\.$/);
    expect(failed.out).toContain(
      "  BREAKING   Field 'legacyChips' was removed from object type 'Query'",
    );
    expect(failed.out).toContain('2 registered trusted document(s), 1 no longer valid.');
    expect(failed.out.filter((l) => l.includes('BROKEN DOCUMENT'))).toEqual([
      `  BROKEN DOCUMENT ${documentHash(legacy)} (Legacy, every caller): Cannot query field "legacyChips" on type "Query".`,
    ]);
    expect(failed.err).toEqual([
      'schema:check failed: the change breaks existing clients (see above).',
    ]);

    // A gateway on that database says at start-up which registered document its schema breaks.
    const gateway = await startChildGateway(database.env);
    const line = await gateway.waitForLog('a registered trusted document no longer validates');
    expect(line).toMatchObject({
      hash: documentHash(legacy),
      apiKeyId: null,
      operation: 'Legacy',
      error: 'does not validate: Cannot query field "legacyChips" on type "Query".',
    });
    expect(
      gateway.logs.filter((l) => l.msg.startsWith('a registered trusted document')),
    ).toHaveLength(1);
    expect(await gateway.stop()).toEqual({ code: 0, signal: null });
    // A gateway process starts within it, on a busy machine.
  }, 120_000);

  it('passes on an added field', async () => {
    const withoutViewer = oldSchemaFile((fields) =>
      fields.filter((f) => f.name.value !== 'viewer'),
    );
    const passed = await run([withoutViewer], {
      CHIPGATE_PGLITE_DIR: path.join(makeTempDir(), 'none'),
    });
    expect(passed.code).toBe(0);
    expect(passed.out[0]).toMatch(/: 0 breaking, 0 dangerous, 2 safe change\(s\)\.$/);
    expect(passed.err).toEqual([]);
  });
});
