/**
 * Float inputs are finite, on both read paths (planner on and off): literals are refused at
 * validation, variables as BAD_USER_INPUT, the write validators refuse NaN and infinities, and the
 * CHECK constraints hold, with the migration that cleared values already stored.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import { queryRows } from '../src/db/client.js';
import { migrationsFolder } from '../src/db/migrate.js';
import { upsertChip } from '../src/db/writes/reference.js';
import { ValidationError } from '../src/errors.js';
import { bothReadPaths, codes, postJson as post, postText } from './helpers/gateway.js';
import { createKey, type TestKey } from './helpers/keys.js';
import { UPSERT_CHIP } from './helpers/queries.js';
import { storedDieArea as storedDieAreaIn } from './helpers/writes.js';

const both = bothReadPaths();
let writer: TestKey;
beforeAll(async () => {
  writer = await createKey(both.gateway.database.db, ['write']);
});

/** Both read paths: the planner (the gateway's default) and the resolvers. */
const PATHS = both.paths;

/** The stored die area of a chip in this file's database (undefined: no such chip). */
const storedDieArea = (slug: string) => storedDieAreaIn(both.gateway.database.db, slug);

describe('Float inputs are finite', () => {
  it.each([
    ['1e999', '1e999'],
    ['-1e999', '-1e999'],
    ['of 401 digits', `1${'0'.repeat(400)}`],
  ])(
    'a literal %s in a mutation input: GRAPHQL_VALIDATION_FAILED, nothing stored',
    async (_name, literal) => {
      const result = await post(
        both.gateway.app,
        `mutation { upsertChip(input: { slug: "inf-literal", name: "Inf", designer: "nvidia", confidence: RECALLED, dieAreaMm2: ${literal} }) { __typename } }`,
        undefined,
        writer.headers,
      );
      expect(result.data).toBeUndefined();
      expect(codes(result)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
      expect(result.errors?.[0]?.message).toMatch(/Float must be a finite number/);
      expect(await storedDieArea('inf-literal')).toBeUndefined();
    },
  );

  it('the same value as a variable: BAD_USER_INPUT, nothing stored, chips still readable', async () => {
    const body = `{"query":${JSON.stringify(UPSERT_CHIP)},"variables":{"input":{"slug":"inf-variable","name":"Inf","designer":"nvidia","confidence":"RECALLED","dieAreaMm2":1e999}}}`;
    const result = await postText(both.gateway.app, body, writer.headers);
    expect(result.data).toBeUndefined();
    expect(codes(result)).toEqual(['BAD_USER_INPUT']);
    expect(result.errors?.[0]?.message).toMatch(/Float must be a finite number.*Infinity/);
    expect(await storedDieArea('inf-variable')).toBeUndefined();
    const read = await post(
      both.gateway.app,
      '{ chips(first: 100) { edges { node { dieAreaMm2 } } } }',
    );
    expect(read.errors).toBeUndefined();
    expect(read.data.chips.edges.length).toBeGreaterThan(10);
  });

  it.each(PATHS)(
    '%s: a filter literal 1e999 is GRAPHQL_VALIDATION_FAILED, as a variable BAD_USER_INPUT',
    async (_name, app) => {
      for (const literal of ['1e999', '-1e999', `1${'0'.repeat(400)}`]) {
        const literalResult = await post(
          app(),
          `{ chips(filter: { minTpp: ${literal} }) { totalCount } }`,
        );
        expect(literalResult.data).toBeUndefined();
        expect(codes(literalResult)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
      }
      const query = 'query ($tpp: Float) { chips(filter: { maxTpp: $tpp }) { totalCount } }';
      const variableResult = await postText(
        app(),
        `{"query":${JSON.stringify(query)},"variables":{"tpp":-1e999}}`,
      );
      expect(variableResult.data).toBeUndefined();
      expect(codes(variableResult)).toEqual(['BAD_USER_INPUT']);
      // A finite filter still works.
      const fine = await post(app(), '{ chips(filter: { minTpp: 4800 }) { totalCount } }');
      expect(fine.errors).toBeUndefined();
      expect(fine.data.chips.totalCount).toBeGreaterThan(0);
    },
  );

  it('a default value 1e999 for a Float variable is GRAPHQL_VALIDATION_FAILED', async () => {
    const result = await post(
      both.gateway.app,
      'query ($tpp: Float = 1e999) { chips(filter: { minTpp: $tpp }) { totalCount } }',
    );
    expect(codes(result)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
  });

  it('the write validator refuses NaN and infinities with field errors (any caller)', async () => {
    const attempt = upsertChip(both.gateway.database.db, {
      slug: 'nan-direct',
      name: 'NaN',
      designer: 'nvidia',
      confidence: 'RECALLED',
      tpp: Number.NaN,
      memoryGb: Number.POSITIVE_INFINITY,
      dieAreaMm2: -1,
    });
    await expect(attempt).rejects.toBeInstanceOf(ValidationError);
    const error = (await attempt.catch((e: unknown) => e)) as ValidationError;
    expect(error.fieldErrors).toEqual([
      {
        path: ['input', 'memoryGb'],
        message: 'Must be a finite number: NaN and infinities are refused (got Infinity).',
      },
      { path: ['input', 'dieAreaMm2'], message: 'Must not be negative (got -1).' },
      {
        path: ['input', 'tpp'],
        message: 'Must be a finite number: NaN and infinities are refused (got NaN).',
      },
    ]);
    expect(await storedDieArea('nan-direct')).toBeUndefined();
  });

  it.each([
    ['chips', 'die_area_mm2', "'Infinity'::float8"],
    ['chips', 'tpp', "'NaN'::float8"],
    ['chips', 'memory_gb', "'-Infinity'::float8"],
    ['policy_decisions', 'revenue_share_percent', "'NaN'::float8"],
    ['demand_signals', 'value_usd', "'NaN'::numeric"],
    ['demand_signals', 'value_original_amount', "'Infinity'::numeric"],
  ])(
    'the store refuses %s.%s = %s whoever writes (CHECK constraint)',
    async (table, column, value) => {
      const write = both.gateway.database.db.execute(
        sql`update ${sql.identifier(table)} set ${sql.identifier(column)} = ${sql.raw(value)}`,
      );
      const error = (await write.then(
        () => undefined,
        (e: unknown) => e,
      )) as { cause?: { code?: string; constraint?: string; constraint_name?: string } };
      expect(error, 'the update went through').toBeDefined();
      expect(error.cause?.code).toBe('23514');
      expect(error.cause?.constraint ?? error.cause?.constraint_name).toBe(
        `${table}_${column}_finite`,
      );
    },
  );

  it('the migration clears values already stored, keeps finite ones, and adds the constraints', async () => {
    const db = both.gateway.database.db;
    const migration = (suffix: string) => {
      const dir = readdirSync(migrationsFolder).find((name) => name.endsWith(`_${suffix}`));
      if (!dir) throw new Error(`no migration *_${suffix}`);
      return readFileSync(path.join(migrationsFolder, dir, 'migration.sql'), 'utf8')
        .split('--> statement-breakpoint')
        .filter((statement) => statement.trim() !== '');
    };
    const constraints = await queryRows<{ table: string; name: string }>(
      db,
      sql`select conrelid::regclass::text as table, conname as name from pg_constraint
           where conname like '%\\_finite' and contype = 'c'`,
    );
    expect(constraints.length).toBe(12);
    // A database as an earlier gateway left it: no constraints, non-finite values stored.
    for (const { table, name } of constraints) {
      await db.execute(
        sql`alter table ${sql.identifier(table)} drop constraint ${sql.identifier(name)}`,
      );
    }
    await db.execute(
      sql`update chips set tpp = 'NaN', die_area_mm2 = 'Infinity', notes = null where slug = 'h20'`,
    );
    await db.execute(
      sql`update policy_decisions set revenue_share_percent = '-Infinity' where slug = 'us-whitehouse-2025-12-08-h200-approval'`,
    );
    await db.execute(
      sql`update demand_signals set value_usd = 'NaN' where slug = 'ds-2025-04-02-cn-h20-orders'`,
    );
    const [before] = await queryRows<{ memory_gb: number; fp16: number }>(
      db,
      sql`select memory_gb, fp16_dense_tflops as fp16 from chips where slug = 'h20'`,
    );

    for (const statement of [...migration('non_finite_to_null'), ...migration('finite_numbers')]) {
      await db.execute(sql.raw(statement));
    }

    const [h20] = await queryRows<{
      tpp: number | null;
      die: number | null;
      memory_gb: number;
      fp16: number;
      notes: string;
    }>(
      db,
      sql`select tpp, die_area_mm2 as die, memory_gb, fp16_dense_tflops as fp16, notes from chips where slug = 'h20'`,
    );
    expect(h20).toEqual({
      tpp: null,
      die: null,
      memory_gb: before?.memory_gb,
      fp16: before?.fp16,
      notes:
        'die_area_mm2 was Infinity (not a finite number); cleared by the migration non_finite_to_null.\n' +
        'tpp was NaN (not a finite number); cleared by the migration non_finite_to_null.',
    });
    const [decision] = await queryRows<{ share: number | null; notes: string }>(
      db,
      sql`select revenue_share_percent as share, notes from policy_decisions where slug = 'us-whitehouse-2025-12-08-h200-approval'`,
    );
    expect(decision?.share).toBeNull();
    expect(decision?.notes).toMatch(/revenue_share_percent was -Infinity \(not a finite number\)/);
    const [signal] = await queryRows<{ value: string | null; quantity: number }>(
      db,
      sql`select value_usd as value, quantity_units as quantity from demand_signals where slug = 'ds-2025-04-02-cn-h20-orders'`,
    );
    expect(signal?.value).toBeNull();
    const after = await queryRows<{ name: string }>(
      db,
      sql`select conname as name from pg_constraint where conname like '%\\_finite' and contype = 'c'`,
    );
    expect(after.length).toBe(12);
    // Only the cleared rows were touched.
    const [touched] = await queryRows<{ count: number }>(
      db,
      sql`select count(*)::int as count from chips where notes like '%non_finite_to_null%'`,
    );
    expect(touched?.count).toBe(1);
  });
});
