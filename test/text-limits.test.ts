/**
 * Text inputs have declared limits, on both read paths (planner on and off): every text field of
 * every mutation input over its limit is a ValidationError naming the field and the limit, with
 * nothing written; text arguments and input fields elsewhere declare theirs. (How lengths are
 * counted, URL normalization and NUL: text-inputs.test.ts; non-finite numbers:
 * float-inputs.test.ts; cursors given to the wrong list: cursor-lists.test.ts.)
 */
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
import { TEXT_LIMITS } from '../src/db/limits.js';
import { maxLengthOf } from '../src/input-limits.js';
import { schema } from '../src/schema/index.js';
import { bothReadPaths, codes, postJson as post } from './helpers/gateway.js';
import { createKey, rowCounts, type TestKey } from './helpers/keys.js';
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
