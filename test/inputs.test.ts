/**
 * Inputs the gateway refuses, on both read paths (planner on and off): non-finite numbers
 * (literals at validation, variables as BAD_USER_INPUT, the write validators, and CHECK
 * constraints with the migration that clears values already stored) and text longer than its
 * declared limit. (Cursors given to a list that did not issue them: cursor-lists.test.ts.)
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import {
  type GraphQLInputObjectType,
  type GraphQLInputType,
  getNamedType,
  isInputObjectType,
  isInterfaceType,
  isListType,
  isNonNullType,
  isObjectType,
} from 'graphql';
import { beforeAll, describe, expect, it } from 'vitest';
import { queryRows } from '../src/db/client.js';
import { TEXT_LIMITS } from '../src/db/limits.js';
import { migrationsFolder } from '../src/db/migrate.js';
import { upsertChip } from '../src/db/writes/reference.js';
import { ValidationError } from '../src/errors.js';
import { schema } from '../src/schema/index.js';
import { maxLengthOf } from '../src/schema/limits.js';
import { bothReadPaths, codes, postJson as post, postText } from './helpers/gateway.js';
import { createKey, rowCounts, type TestKey } from './helpers/keys.js';

const both = bothReadPaths();
let writer: TestKey;
beforeAll(async () => {
  writer = await createKey(both.gateway.database.db, ['write']);
});

/** Both read paths: the planner (the gateway's default) and the resolvers. */

const PATHS = both.paths;

const UPSERT_CHIP = /* GraphQL */ `
  mutation ($input: UpsertChipInput!) {
    upsertChip(input: $input) {
      __typename
      ... on UpsertChipSuccess { chip { slug dieAreaMm2 } }
      ... on ValidationError { fieldErrors { path message } }
    }
  }`;

/** The stored die area of a chip (undefined when there is no such chip). */
async function storedDieArea(slug: string): Promise<number | null | undefined> {
  const rows = await queryRows<{ die_area_mm2: number | null }>(
    both.gateway.database.db,
    sql`select die_area_mm2 from chips where slug = ${slug}`,
  );
  return rows[0] ? rows[0].die_area_mm2 : undefined;
}

/** Valid inputs of each mutation, whose text fields the length test makes too long one by one. */
const MUTATION_INPUTS: Record<string, Record<string, unknown>> = {
  createPolicyDecision: {
    slug: 'len-decision',
    title: 'Title',
    summary: 'Summary',
    jurisdiction: 'US',
    destinations: ['CN'],
    authority: 'BIS',
    kind: 'EXPORT_RULE',
    status: 'PROPOSED',
    announcedOn: '2025-01-01',
    chips: [{ chip: 'h200', effect: 'BANNED' }],
    companies: ['nvidia'],
    supersedes: 'us-whitehouse-2025-12-08-h200-approval',
    sourceUrl: 'https://example.com/rule',
    federalRegisterDocumentNumber: '2025-00001',
    idempotencyKey: 'len-key-1',
  },
  updatePolicyDecisionStatus: {
    slug: 'us-whitehouse-2025-12-08-h200-approval',
    status: 'SUSPENDED',
    note: 'Note',
  },
  recordDemandSignal: {
    slug: 'len-signal',
    companies: ['nvidia'],
    chip: 'h200',
    kind: 'ORDER',
    observedOn: '2025-01-01',
    reportedBy: 'Reuters',
    summary: 'Summary',
    idempotencyKey: 'len-key-2',
  },
  upsertCompany: {
    slug: 'len-company',
    name: 'Name',
    country: 'US',
    roles: ['DESIGNER'],
    listings: [{ ticker: 'LEN', exchange: 'NASDAQ', primary: true, note: 'ADR' }],
    secCik: '1045810',
    secFilerType: 'Large accelerated filer',
    confidence: 'RECALLED',
  },
  upsertChip: {
    slug: 'len-chip',
    name: 'Name',
    designer: 'nvidia',
    foundry: 'tsmc',
    derivedFrom: 'h100',
    architecture: 'Hopper',
    processNode: 'TSMC 4N',
    memoryType: 'HBM3e',
    exportControlNote: 'Note',
    confidence: 'RECALLED',
  },
};

/**
 * Every text field of a mutation input (String or ID, in lists and nested inputs), as the path
 * below `input` and the input with that field set to `text`.
 */
function withLongText(
  type: GraphQLInputObjectType,
  value: Record<string, unknown>,
  text: string,
  path: string[] = [],
): { path: string[]; input: Record<string, unknown> }[] {
  const variants: { path: string[]; input: Record<string, unknown> }[] = [];
  for (const field of Object.values(type.getFields())) {
    const named = getNamedType(field.type);
    const list = isListType(isNonNullType(field.type) ? field.type.ofType : field.type);
    const current = value[field.name];
    if (isInputObjectType(named)) {
      const item = (list ? (current as unknown[])?.[0] : current) as Record<string, unknown>;
      expect(item, `${type.name}.${field.name} has a value`).toBeDefined();
      for (const variant of withLongText(named, item, text)) {
        const replaced = list ? [variant.input, ...(current as unknown[]).slice(1)] : variant.input;
        variants.push({
          path: [...path, field.name, ...(list ? ['0'] : []), ...variant.path],
          input: { ...value, [field.name]: replaced },
        });
      }
    } else if (named.name === 'String' || named.name === 'ID') {
      expect(current, `${type.name}.${field.name} has a value`).toBeDefined();
      variants.push({
        path: [...path, field.name, ...(list ? ['0'] : [])],
        input: { ...value, [field.name]: list ? [text, ...(current as unknown[]).slice(1)] : text },
      });
    }
  }
  return variants;
}

describe('text inputs have declared limits', () => {
  const long = 'x'.repeat(TEXT_LIMITS.longText + 1);

  it('a 100 kB sourceUrl is refused by the URL scalar, naming the limit; nothing stored', async () => {
    const upsert = (sourceUrl: string) =>
      post(
        both.gateway.app,
        UPSERT_CHIP,
        {
          input: {
            slug: 'long-url',
            name: 'L',
            designer: 'nvidia',
            confidence: 'RECALLED',
            sourceUrl,
          },
        },
        writer.headers,
      );
    const sourceUrl = `https://example.com/${'a'.repeat(100_000)}`;
    const result = await upsert(sourceUrl);
    expect(result.data).toBeUndefined();
    expect(codes(result)).toEqual(['BAD_USER_INPUT']);
    expect(result.errors?.[0]?.message).toContain(
      `URL must be at most 2048 characters (got ${sourceUrl.length})`,
    );
    const literal = await post(
      both.gateway.app,
      `mutation { upsertChip(input: { slug: "long-url", name: "L", designer: "nvidia", confidence: RECALLED, sourceUrl: "${sourceUrl}" }) { __typename } }`,
      undefined,
      writer.headers,
    );
    expect(codes(literal)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    expect(await storedDieArea('long-url')).toBeUndefined();
    // At the limit: stored.
    const fits = await upsert(`https://example.com/${'a'.repeat(TEXT_LIMITS.url - 20)}`);
    expect(fits.data?.upsertChip.__typename).toBe('UpsertChipSuccess');
  });

  it('every text field of every mutation input over its limit: a ValidationError naming the field and the limit, nothing written', async () => {
    const mutationType = schema.getMutationType();
    if (!mutationType) throw new Error('no Mutation type');
    const before = await rowCounts(both.gateway.database.db);
    const checked: string[] = [];
    for (const [name, base] of Object.entries(MUTATION_INPUTS)) {
      const inputArg = mutationType.getFields()[name]?.args.find((arg) => arg.name === 'input');
      const inputType = inputArg && getNamedType(inputArg.type);
      if (!isInputObjectType(inputType)) throw new Error(`${name} takes no input object`);
      for (const variant of withLongText(inputType, base, long)) {
        const result = await post(
          both.gateway.app,
          `mutation ($input: ${inputType.name}!) { r: ${name}(input: $input) { __typename ... on ValidationError { fieldErrors { path message } } } }`,
          { input: variant.input },
          writer.headers,
        );
        const where = `${name} ${variant.path.join('.')}`;
        expect(result.errors, where).toBeUndefined();
        expect(result.data.r.__typename, where).toBe('ValidationError');
        expect(result.data.r.fieldErrors, where).toEqual([
          {
            path: ['input', ...variant.path],
            message: expect.stringMatching(
              /^Must be (at most [\d,]+ characters \(got 5001\)|1 to 200 characters, not blank \(got 5001\)|1 to 10 digits, e\.g\. `0001045810`)\.$/,
            ),
          },
        ]);
        checked.push(where);
      }
    }
    expect(await rowCounts(both.gateway.database.db)).toEqual(before);
    expect(checked).toEqual(
      expect.arrayContaining([
        'createPolicyDecision supersedes',
        'createPolicyDecision chips.0.chip',
        'createPolicyDecision companies.0',
        'updatePolicyDecisionStatus note',
        'recordDemandSignal reportedBy',
        'upsertCompany listings.0.note',
        'upsertChip derivedFrom',
      ]),
    );
    expect(checked.length).toBe(33);
  });

  it.each(PATHS)(
    '%s: lookups, filters and search terms over their limit are BAD_USER_INPUT, before any SQL',
    async (_name, app) => {
      const slug = 'a'.repeat(TEXT_LIMITS.slug + 1);
      for (const [query, variables, message] of [
        [
          'query ($s: String!) { chip(slug: $s) { name } }',
          { s: slug },
          'Argument "slug" of Query.chip must be at most 100 characters (got 101).',
        ],
        [
          `{ policyDecision(slug: "${slug}") { title } }`,
          {},
          'Argument "slug" of Query.policyDecision must be at most 100 characters (got 101).',
        ],
        [
          'query ($a: String) { chips(filter: { architecture: $a }) { totalCount } }',
          { a: 'h'.repeat(301) },
          'Argument "filter.architecture" of Query.chips must be at most 300 characters (got 301).',
        ],
        [
          'query ($c: String) { company(slug: "nvidia") { policyDecisions(filter: { chip: $c }) { totalCount } } }',
          { c: slug },
          'Argument "filter.chip" of Company.policyDecisions must be at most 100 characters (got 101).',
        ],
        [
          `{ timeline(filter: { company: "${slug}" }) { totalCount } }`,
          {},
          'Argument "filter.company" of Query.timeline must be at most 100 characters (got 101).',
        ],
        [
          'query ($t: String) { federalRegisterDocuments(filter: { term: $t }) { totalCount } }',
          { t: 't'.repeat(201) },
          'Argument "filter.term" of Query.federalRegisterDocuments must be at most 200 characters (got 201).',
        ],
        [
          'query ($c: String) { chips(after: $c) { totalCount } }',
          { c: 'Y'.repeat(TEXT_LIMITS.cursor + 1) },
          'Argument "after" of Query.chips must be at most 4096 characters (got 4097).',
        ],
      ] as const) {
        both.gateway.statements.reset();
        const result = await post(app(), query, variables);
        expect(result.data, query).toBeUndefined();
        expect(codes(result), query).toEqual(['BAD_USER_INPUT']);
        expect(result.errors?.[0]?.message).toBe(message);
        expect(both.gateway.statements.count, query).toBe(0);
      }
      // At the limit: answered (no such row).
      const fits = await post(app(), 'query ($s: String!) { chip(slug: $s) { name } }', {
        s: 'a'.repeat(TEXT_LIMITS.slug),
      });
      expect(fits.errors).toBeUndefined();
      expect(fits.data.chip).toBeNull();
    },
  );

  it('an ID longer than any object refuses the whole nodes request before it runs', async () => {
    const id = Buffer.from(`Chip:${'a'.repeat(TEXT_LIMITS.globalId)}`).toString('base64');
    const result = await post(
      both.gateway.app,
      'query ($ids: [ID!]!) { nodes(ids: $ids) { id } }',
      {
        ids: [id, Buffer.from('Chip:h200').toString('base64')],
      },
    );
    expect(codes(result)).toEqual(['BAD_USER_INPUT']);
    expect(result.data).toBeUndefined();
  });

  it('every text argument or input field outside mutation inputs declares its limit', () => {
    const mutationInputs = new Set<string>();
    const collect = (type: GraphQLInputType) => {
      const named = getNamedType(type);
      if (!isInputObjectType(named) || mutationInputs.has(named.name)) return;
      mutationInputs.add(named.name);
      for (const field of Object.values(named.getFields())) collect(field.type);
    };
    for (const field of Object.values(schema.getMutationType()?.getFields() ?? {})) {
      for (const arg of field.args) collect(arg.type);
    }
    const unbounded: string[] = [];
    const isText = (type: GraphQLInputType) => ['String', 'ID'].includes(getNamedType(type).name);
    for (const type of Object.values(schema.getTypeMap())) {
      if (type.name.startsWith('__')) continue;
      if (isObjectType(type) || isInterfaceType(type)) {
        for (const field of Object.values(type.getFields())) {
          for (const arg of field.args) {
            const where = `${type.name}.${field.name}(${arg.name})`;
            if (isText(arg.type) && maxLengthOf(arg) === undefined) {
              unbounded.push(where);
            }
          }
        }
      }
      if (isInputObjectType(type) && !mutationInputs.has(type.name)) {
        for (const field of Object.values(type.getFields())) {
          if (isText(field.type) && maxLengthOf(field) === undefined) {
            unbounded.push(`${type.name}.${field.name}`);
          }
        }
      }
    }
    expect(unbounded).toEqual([]);
  });
});

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
