/**
 * What a caller is charged (the rule in `src/cost.ts`), on both read paths: `nodes(ids)` per id
 * listed, repeats included, each distinct id read once; plain lists for `PLAIN_LIST_MAX` items,
 * which the writers refuse to exceed; list arguments at most `MAX_LIST_ARGUMENT` entries.
 */
import { sql } from 'drizzle-orm';
import { documentHash } from '../src/access/documents.js';
import type { App } from '../src/app.js';
import { MAX_LIST_ARGUMENT } from '../src/cost.js';
import { queryRows } from '../src/db/client.js';
import { PLAIN_LIST_MAX } from '../src/db/limits.js';
import { backend } from './helpers/database.js';
import { manifestFile, registeredDocuments, runDocuments } from './helpers/documents.js';
import { test as base, describe, expect } from './helpers/fixtures.js';
import {
  closeApp,
  createTestGateway,
  executeOn,
  type TestGateway,
  twinApp,
} from './helpers/gateway.js';
import type { TestKey } from './helpers/keys.js';
import { globalId } from './helpers/operations.js';
import { setStatus } from './helpers/writes.js';

/**
 * The shared fixtures plus `resolvers`: a second app over the same database and sources with the
 * planner off, so a test can run one operation on both read paths.
 */
const test = base.extend('resolvers', { scope: 'file' }, async ({ gateway }, { onCleanup }) => {
  const resolvers: App = twinApp(gateway, 'off');
  onCleanup(() => closeApp(resolvers));
  return resolvers;
});
test.override('gatewayOptions', { planner: 'on' });

/** Both read paths, named: the planned one (`gateway.app`) and `resolvers`. */
const paths = (gateway: TestGateway, resolvers: App) =>
  [
    ['planned', gateway.app],
    ['resolvers', resolvers],
  ] as const;

const NVIDIA = globalId('Company', 'nvidia');
const H200 = globalId('Chip', 'h200');

/**
 * Per node: id 1 + slug 1 + chipsDesigned (1 + 100 x (edges 1 + node 1 + slug 1 +
 * policyDecisions (1 + 10 x (edges 1 + node 1 + slug 1)))) = 2 + 1 + 100 x 34 = 3,403.
 */
const NESTED = /* GraphQL */ `query ($ids: [ID!]!) {
  nodes(ids: $ids) { id ... on Company { slug chipsDesigned(first: 100) { edges { node { slug
    policyDecisions(first: 10) { edges { node { slug } } } } } } } }
}`;
const PER_NODE = 3_403;

describe('nodes(ids)', () => {
  test('is charged for its selection once per id listed, repeats included', async ({ gateway }) => {
    const one = await gateway.execute(NESTED, { ids: [NVIDIA] });
    expect(one.errors).toBeUndefined();
    expect(one.data.nodes).toHaveLength(1);
    // 100 copies of one id: 100 times the selection, over the 50,000 budget, refused before SQL.
    gateway.statements.reset();
    const hundred = await gateway.execute(NESTED, { ids: Array(100).fill(NVIDIA) });
    expect(hundred.data).toBeUndefined();
    expect(hundred.errors?.[0]?.extensions?.code).toBe('QUERY_TOO_COMPLEX');
    expect(hundred.errors?.[0]?.message).toMatch(
      `Query is too expensive: cost ${1 + 100 * PER_NODE}, the limit is 50000.`,
    );
    expect(gateway.statements.count).toBe(0);
    // Fourteen copies fit (1 + 14 x 3,403 = 47,643); fifteen do not (51,046).
    const fourteen = await gateway.execute(NESTED, { ids: Array(14).fill(NVIDIA) });
    expect(fourteen.errors).toBeUndefined();
    const fifteen = await gateway.execute(NESTED, { ids: Array(15).fill(NVIDIA) });
    expect(fifteen.errors?.[0]?.message).toMatch(`cost ${1 + 15 * PER_NODE},`);
  });

  test.for(['planned', 'resolvers'] as const)(
    'reads a repeated id once and answers every position in order (%s)',
    async (path, { gateway, resolvers }) => {
      const app = path === 'planned' ? gateway.app : resolvers;
      const ids = [NVIDIA, H200, NVIDIA, NVIDIA, globalId('Chip', 'no-such-chip'), H200];
      gateway.statements.reset();
      const result = await executeOn(
        app,
        /* GraphQL */ `query ($ids: [ID!]!) { nodes(ids: $ids) { id ... on Company { slug } ... on Chip { slug } } }`,
        { ids },
      );
      expect(result.errors).toBeUndefined();
      expect(result.data.nodes).toEqual([
        { id: NVIDIA, slug: 'nvidia' },
        { id: H200, slug: 'h200' },
        { id: NVIDIA, slug: 'nvidia' },
        { id: NVIDIA, slug: 'nvidia' },
        null,
        { id: H200, slug: 'h200' },
      ]);
      // Each distinct key is bound once, whatever the path sends.
      const bound = gateway.statements.params.flat(2).filter((p) => typeof p === 'string');
      expect(bound.filter((p) => p === 'nvidia')).toEqual(['nvidia']);
      expect(bound.filter((p) => p === 'h200')).toEqual(['h200']);
    },
  );
});

describe('plain lists', () => {
  test(`are charged for ${PLAIN_LIST_MAX} items on both paths`, async ({ gateway, resolvers }) => {
    // policyDecision 1 + chips (1 + 20 x (effect 1 + chip 1 + slug 1)) = 62.
    const strict = await createTestGateway({ limits: { maxCost: 61 } });
    try {
      const query = `{ policyDecision(slug: "us-whitehouse-2025-12-08-h200-approval") { chips { effect chip { slug } } } }`;
      const refused = await strict.execute(query);
      expect(refused.errors?.[0]?.message).toMatch('cost 62, the limit is 61.');
      for (const [, app] of paths(gateway, resolvers)) {
        const answered = await executeOn(app, query);
        expect(answered.errors).toBeUndefined();
      }
    } finally {
      await strict.close();
    }
  });

  const mutate = (
    gateway: TestGateway,
    writer: TestKey,
    query: string,
    input: Record<string, unknown>,
  ) => gateway.execute(query, { input }, writer.headers);
  const ERRORS = '... on ValidationError { fieldErrors { path message } }';

  test('a decision names at most PLAIN_LIST_MAX chips and companies; a signal as many companies', async ({
    gateway,
    writer,
  }) => {
    const chips = Array.from({ length: PLAIN_LIST_MAX + 1 }, (_, i) => ({
      chip: `chip-${i}`,
      effect: 'BANNED',
    }));
    const companies = Array.from({ length: PLAIN_LIST_MAX + 1 }, (_, i) => `company-${i}`);
    const decision = await mutate(
      gateway,
      writer,
      `mutation ($input: CreatePolicyDecisionInput!) { createPolicyDecision(input: $input) { __typename ${ERRORS} } }`,
      {
        slug: 'us-bis-2026-03-01-too-many',
        title: 'Too many',
        jurisdiction: 'US',
        destinations: ['CN'],
        authority: 'BIS',
        kind: 'EXPORT_RULE',
        status: 'IN_EFFECT',
        announcedOn: '2026-03-01',
        chips,
        companies,
      },
    );
    const decisionErrors = decision.data.createPolicyDecision.fieldErrors;
    expect(decisionErrors).toContainEqual({
      path: ['input', 'chips'],
      message: `Name at most ${PLAIN_LIST_MAX} chips (got ${PLAIN_LIST_MAX + 1}).`,
    });
    expect(decisionErrors).toContainEqual({
      path: ['input', 'companies'],
      message: `Name at most ${PLAIN_LIST_MAX} companies (got ${PLAIN_LIST_MAX + 1}).`,
    });
    const signal = await mutate(
      gateway,
      writer,
      `mutation ($input: RecordDemandSignalInput!) { recordDemandSignal(input: $input) { __typename ${ERRORS} } }`,
      { slug: 'ds-too-many', companies, kind: 'ORDER', observedOn: '2026-03-01' },
    );
    expect(signal.data.recordDemandSignal.fieldErrors).toContainEqual({
      path: ['input', 'companies'],
      message: `Name at most ${PLAIN_LIST_MAX} companies (got ${PLAIN_LIST_MAX + 1}).`,
    });
    const company = await mutate(
      gateway,
      writer,
      `mutation ($input: UpsertCompanyInput!) { upsertCompany(input: $input) { __typename ${ERRORS} } }`,
      {
        slug: 'too-listed',
        name: 'Too Listed',
        country: 'US',
        roles: ['BUYER'],
        confidence: 'RECALLED',
        listings: Array.from({ length: PLAIN_LIST_MAX + 1 }, (_, i) => ({
          ticker: `T${i}`,
          exchange: 'NASDAQ',
          primary: i === 0,
        })),
      },
    );
    expect(company.data.upsertCompany.fieldErrors).toEqual([
      {
        path: ['input', 'listings'],
        message: `Name at most ${PLAIN_LIST_MAX} listings (got ${PLAIN_LIST_MAX + 1}).`,
      },
    ]);
  });

  test('a decision answers the latest PLAIN_LIST_MAX status changes, oldest first, and its status still changes', async ({
    gateway,
    writer,
    resolvers,
  }) => {
    const slug = 'us-commerce-2025-07-14-h20-licenses-resume';
    const [row] = await queryRows<{ n: number; status: string }>(
      gateway.database.db,
      sql`select count(*)::int as n, min(d.status::text) as status from policy_decision_updates u
          join policy_decisions d on d.id = u.decision_id where d.slug = ${slug}`,
    );
    // Another writer (plain SQL) fills the history past the bound.
    let status = row?.status ?? 'IN_EFFECT';
    const flip = () => (status === 'SUSPENDED' ? 'IN_EFFECT' : 'SUSPENDED');
    let n = row?.n ?? 0;
    for (; n < PLAIN_LIST_MAX + 5; n += 1) {
      status = flip();
      await setStatus(gateway.database.db, slug, status, `change ${n}`);
    }
    // The API still changes it: a long history freezes nothing.
    status = flip();
    const result = await mutate(
      gateway,
      writer,
      `mutation ($input: UpdatePolicyDecisionStatusInput!) { updatePolicyDecisionStatus(input: $input) { __typename } }`,
      { slug, status, note: `change ${n}` },
    );
    expect(result.data.updatePolicyDecisionStatus.__typename).toBe(
      'UpdatePolicyDecisionStatusSuccess',
    );
    const expected = Array.from(
      { length: PLAIN_LIST_MAX },
      (_, i) => `change ${n - PLAIN_LIST_MAX + 1 + i}`,
    );
    for (const [name, app] of paths(gateway, resolvers)) {
      const answer = await executeOn(
        app,
        `{ policyDecision(slug: "${slug}") { updates { note toStatus } } }`,
      );
      expect(answer.errors, name).toBeUndefined();
      const updates = answer.data.policyDecision.updates as { note: string; toStatus: string }[];
      expect(
        updates.map((u) => u.note),
        name,
      ).toEqual(expected);
      expect(updates.at(-1)?.toStatus, name).toBe(status);
    }
  });

  test('a chip has at most PLAIN_LIST_MAX derivatives', async ({ gateway, writer }) => {
    const upsert = (slug: string) =>
      mutate(
        gateway,
        writer,
        `mutation ($input: UpsertChipInput!) { upsertChip(input: $input) { __typename ${ERRORS} } }`,
        { slug, name: slug, designer: 'nvidia', derivedFrom: 'h100', confidence: 'RECALLED' },
      );
    const [row] = await queryRows<{ n: number }>(
      gateway.database.db,
      sql`select count(*)::int as n from chips where derived_from_id = (select id from chips where slug = 'h100')`,
    );
    for (let i = row?.n ?? 0; i < PLAIN_LIST_MAX; i += 1) {
      expect((await upsert(`h100-variant-${i}`)).data.upsertChip.__typename).toBe(
        'UpsertChipSuccess',
      );
    }
    // Upserting one of them again is no new derivative; a new one is refused.
    expect((await upsert(`h100-variant-${PLAIN_LIST_MAX - 1}`)).data.upsertChip.__typename).toBe(
      'UpsertChipSuccess',
    );
    expect((await upsert('h100-one-too-many')).data.upsertChip).toEqual({
      __typename: 'ValidationError',
      fieldErrors: [
        {
          path: ['input', 'derivedFrom'],
          message: `"h100" already has ${PLAIN_LIST_MAX} derivatives, the most one chip may have (${PLAIN_LIST_MAX}).`,
        },
      ],
    });
  });
});

describe('list arguments', () => {
  const tooMany = MAX_LIST_ARGUMENT + 1;

  test('longer than MAX_LIST_ARGUMENT are BAD_USER_INPUT before any SQL, literal or variable', async ({
    gateway,
    writer,
  }) => {
    const statuses = Array(tooMany).fill('IN_EFFECT').join(', ');
    gateway.statements.reset();
    const literal = await gateway.execute(
      `{ policyDecisions(filter: { status: [${statuses}] }) { totalCount } }`,
    );
    expect(literal.data).toBeUndefined();
    expect(literal.errors).toEqual([
      expect.objectContaining({
        message: `Argument "filter.status" of Query.policyDecisions must hold at most ${MAX_LIST_ARGUMENT} entries (got ${tooMany}).`,
        extensions: { code: 'BAD_USER_INPUT' },
      }),
    ]);
    const variable = await gateway.execute('query ($ids: [ID!]!) { nodes(ids: $ids) { id } }', {
      ids: Array(tooMany).fill(NVIDIA),
    });
    expect(variable.errors).toEqual([
      expect.objectContaining({
        message: `Argument "ids" of Query.nodes must hold at most ${MAX_LIST_ARGUMENT} entries (got ${tooMany}).`,
        extensions: { code: 'BAD_USER_INPUT' },
      }),
    ]);
    const input = await gateway.execute(
      'mutation ($input: RecordDemandSignalInput!) { recordDemandSignal(input: $input) { __typename } }',
      {
        input: {
          slug: 'ds-list',
          companies: Array(tooMany).fill('nvidia'),
          kind: 'ORDER',
          observedOn: '2026-03-01',
        },
      },
      writer.headers,
    );
    expect(input.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(input.errors?.[0]?.message).toBe(
      `Argument "input.companies" of Mutation.recordDemandSignal must hold at most ${MAX_LIST_ARGUMENT} entries (got ${tooMany}).`,
    );
    // Only the key lookup of the writer's request reached the database.
    expect(gateway.statements.statements.filter((s) => !/api_keys/.test(s))).toEqual([]);
  });
});

describe.runIf(backend === 'postgres')('PostgreSQL sessions', () => {
  test('compile nothing just in time: its time follows a statement size, not its cost', async ({
    gateway,
  }) => {
    // With JIT on, a planned read of 100 chips' export status at 30 dates (cost 27,301) spent
    // 1.4 s compiling 1,884 functions at S=10, ten times what it spent running.
    const rows = await queryRows<{ jit: string }>(
      gateway.database.db,
      sql`select current_setting('jit') as jit`,
    );
    expect(rows).toEqual([{ jit: 'off' }]);
  });
});

describe('documents add', () => {
  const SMALL = 'query Chip($slug: String!) { chip(slug: $slug) { name } }';
  /**
   * At $n = 100: companies 1 + 100 x (edges 1 + node 1 + chipsDesigned (1 + 100 x (edges 1 +
   * node 1 + policyDecisions (1 + 100 x 3)))) = 3,030,301.
   */
  const nested = (n: string) =>
    `query Deep${n === '$n' ? '($n: Int)' : n === 'default' ? '($n: Int = 3)' : ''} { companies(first: ${n === 'default' ? '$n' : n}) { edges { node { chipsDesigned(first: ${n === 'default' ? '$n' : n}) { edges { node { policyDecisions(first: ${n === 'default' ? '$n' : n}) { edges { node { slug } } } } } } } } } }`;
  const NODES = `query Ids($ids: [ID!]!) { nodes(ids: $ids) { id ... on Company { chipsDesigned(first: 100) { edges { node { slug name tpp } } } } } }`;
  let deepest = '{ chip(slug: "h200") { slug } }';
  for (let i = 0; i < 12; i += 1) deepest = deepest.replace('{ slug }', '{ derivedFrom { slug } }');

  async function add(gateway: TestGateway, documents: Record<string, string>) {
    const file = manifestFile(
      Object.fromEntries(Object.values(documents).map((d) => [documentHash(d), d])),
    );
    const { code, out, err } = await runDocuments(gateway.database.db, 'add', file);
    return {
      code,
      out,
      err: err.join('\n'),
      hash: (name: string) => documentHash(documents[name] ?? ''),
    };
  }
  const registered = (gateway: TestGateway) => registeredDocuments(gateway.database.db);

  test('refuses a manifest with a document over the cost or depth limit at its worst, registering nothing', async ({
    gateway,
  }) => {
    const before = await registered(gateway);
    const refused = await add(gateway, {
      small: SMALL,
      variables: nested('$n'),
      literal: nested('100'),
      ids: NODES,
      deep: deepest,
      longList: `{ nodes(ids: [${Array(101).fill('"x"').join(', ')}]) { id } }`,
    });
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/nothing registered, 5 problem\(s\)/);
    expect(refused.err).toContain(
      `${refused.hash('variables')}: the document can never run: operation "Deep" costs 3030301 at its worst, over the per-operation limit of 50000 (CHIPGATE_MAX_COST; page sizes given by variables without a default count at 100, id lists at 100)`,
    );
    expect(refused.err).toContain(
      `${refused.hash('literal')}: the document can never run: operation "Deep" costs 3030301 at its worst`,
    );
    // 1 + 100 ids x (id 1 + chipsDesigned (1 + 100 x (edges 1 + node 1 + 3 leaves))) = 50,201.
    expect(refused.err).toContain(
      `${refused.hash('ids')}: the document can never run: operation "Ids" costs 50201 at its worst`,
    );
    expect(refused.err).toContain(
      `${refused.hash('deep')}: the document can never run: its operation is 14 deep, over the per-operation limit of 12 (CHIPGATE_MAX_DEPTH)`,
    );
    expect(refused.err).toContain(
      `${refused.hash('longList')}: the document can never run: its operation passes a value over its limit: Argument "ids" of Query.nodes must hold at most 100 entries (got 101).`,
    );
    expect(refused.err).not.toContain(refused.hash('small'));
    expect(await registered(gateway)).toBe(before);
  });

  const LEAVES = 'name slug tpp memoryGb memoryType processNode launchYear tdpWatts architecture';
  test('refuses what a request would be refused: too many tokens, aliases, directives, or a shape over its limit', async ({
    gateway,
  }) => {
    const before = await registered(gateway);
    const aliases = Array.from({ length: 31 }, (_, i) => `a${i}: chip(slug: "h200") { slug }`);
    const directives = Array.from({ length: 51 }, () => '@include(if: true)').join(' ');
    const refused = await add(gateway, {
      small: SMALL,
      tokens: `{ chip(slug: "h200") { ${Array(5_000).fill('slug').join(' ')} } }`,
      aliases: `{ ${aliases.join(' ')} }`,
      directives: `{ chip(slug: "h200") { slug ${directives} } }`,
      repeats: `{ chip(slug: "h200") { ${Array(11).fill('slug').join(' ')} } }`,
      spreads: `{ chip(slug: "h200") { ${Array(51).fill('...F').join(' ')} } } fragment F on Chip { slug }`,
      selections: `{ ${Array.from({ length: 30 }, (_, i) => `c${i}: chip(slug: "h200") { ...Tree }`).join(' ')} } fragment Tree on Chip { ${`${LEAVES} derivedFrom { `.repeat(10)}slug${' }'.repeat(10)} }`,
    });
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/nothing registered, 6 problem\(s\)/);
    const at = (name: string) =>
      `${refused.hash(name)}: the document would be refused at request time: `;
    expect(refused.err).toContain(
      `${at('tokens')}Token limit of 5000 exceeded. (CHIPGATE_MAX_TOKENS)`,
    );
    expect(refused.err).toContain(
      `${at('aliases')}Aliases limit of 30 exceeded, found 31. (CHIPGATE_MAX_ALIASES)`,
    );
    expect(refused.err).toContain(
      `${at('directives')}Directives limit of 50 exceeded, found 51. (fixed)`,
    );
    expect(refused.err).toContain(
      `${at('repeats')}The document selects "chip.slug" more than 10 times, over the limit of fields per response path (CHIPGATE_MAX_FIELD_REPEATS).`,
    );
    expect(refused.err).toContain(
      `${at('spreads')}The document spreads fragments 51 times, over the limit of 50 (CHIPGATE_MAX_FRAGMENT_SPREADS).`,
    );
    expect(refused.err).toContain(
      `${at('selections')}The document selects more than 1000 fields with its fragments expanded, over the limit (CHIPGATE_MAX_SELECTIONS).`,
    );
    expect(refused.err).not.toContain(refused.hash('small'));
    expect(await registered(gateway)).toBe(before);
    // Sent as requests, the same documents are refused by the same rules.
    const request = await gateway.execute(
      `{ chip(slug: "h200") { ${Array(11).fill('slug').join(' ')} } }`,
    );
    expect(request.errors?.[0]?.message).toBe(
      'The document selects "chip.slug" more than 10 times, over the limit of fields per response path (CHIPGATE_MAX_FIELD_REPEATS).',
    );
  });

  test('counts a page size variable with a default at its default, and at most what its field accepts', async ({
    gateway,
  }) => {
    // news(first:) accepts at most 50: its worst case is 50, not a refusal of 100.
    const news = 'query News($n: Int) { company(slug: "nvidia") { news(first: $n) { title } } }';
    const added = await add(gateway, { withDefault: nested('default'), small: SMALL, news });
    expect(added).toMatchObject({ code: 0, err: '' });
    expect(added.out[0]).toMatch(/^Registered 3 trusted document\(s\)/);
  });
});
