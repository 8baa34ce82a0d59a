/**
 * Bad input on reads: every error carries a code, nothing unexpected leaks, and one anonymous
 * request cannot ask for unbounded work.
 */
import { STORY_QUERY } from '../src/story.js';
import { describe, expect, test } from './helpers/fixtures.js';
import { appOn, createTestGateway, executeOn } from './helpers/gateway.js';
import { NESTED_QUERY } from './helpers/queries.js';

/** Asserts one error with `code`, and that no internals leak in any error. */
function expectError(result: { errors?: readonly any[] }, code: string, message?: RegExp) {
  expect(result.errors?.length).toBeGreaterThan(0);
  for (const error of result.errors ?? []) {
    expect(error.extensions?.code).toBeTruthy();
    expect(JSON.stringify(error)).not.toMatch(
      /stack|select |from "|node_modules|\bat [A-Za-z]+ \(/,
    );
  }
  expect(result.errors?.[0]?.extensions?.code).toBe(code);
  if (message) expect(result.errors?.[0]?.message).toMatch(message);
}

describe('connection arguments', () => {
  test.for<[string, string, RegExp]>([
    [
      'first: -1',
      '{ companies(first: -1) { totalCount } }',
      /"first" must be between 0 and 100, got -1/,
    ],
    [
      'first: 100000',
      '{ companies(first: 100000) { totalCount } }',
      /"first" must be between 0 and 100/,
    ],
    [
      'last: 101',
      '{ policyDecisions(last: 101) { totalCount } }',
      /"last" must be between 0 and 100/,
    ],
    [
      'first and last',
      '{ demandSignals(first: 1, last: 1) { totalCount } }',
      /either "first" or "last"/,
    ],
    [
      'a bad first deep inside',
      '{ companies(first: 1) { edges { node { chipsDesigned(first: 1) { edges { node { policyDecisions(first: 500) { totalCount } } } } } } } }',
      /"first" must be between 0 and 100, got 500/,
    ],
    ['a negative first on the timeline', '{ timeline(first: -5) { totalCount } }', /"first"/],
  ])('%s is BAD_USER_INPUT before any SQL runs', async ([_label, query, message], { gateway }) => {
    gateway.statements.reset();
    const result = await gateway.execute(query);
    expectError(result, 'BAD_USER_INPUT', message);
    expect(gateway.statements.count).toBe(0);
  });

  test('first: 0 is an empty page, not an error', async ({ gateway }) => {
    const { data, errors } = await gateway.execute(
      '{ chips(first: 0) { totalCount edges { cursor } pageInfo { hasNextPage } } }',
    );
    expect(errors).toBeUndefined();
    expect(data.chips.edges).toEqual([]);
    expect(data.chips.totalCount).toBe(16);
  });

  test('variables go through the same checks', async ({ gateway }) => {
    const result = await gateway.execute('query ($n: Int) { chips(first: $n) { totalCount } }', {
      n: 1000,
    });
    expectError(result, 'BAD_USER_INPUT');
  });
});

describe('cursors', () => {
  test.for<[string, string]>([
    ['garbage', 'not-a-cursor'],
    ['base64 garbage', Buffer.from('{"a":1}').toString('base64')],
    ['empty', ''],
  ])(
    'a cursor we never issued (%s) is BAD_USER_INPUT on every connection',
    async ([_label, cursor], { gateway }) => {
      for (const query of [
        'query ($c: String) { policyDecisions(after: $c) { totalCount } }',
        'query ($c: String) { demandSignals(before: $c, last: 2) { totalCount } }',
        'query ($c: String) { timeline(after: $c) { totalCount } }',
        'query ($c: String) { chip(slug: "h200") { policyDecisions(after: $c) { totalCount } } }',
        'query ($c: String) { company(slug: "nvidia") { chipsDesigned(after: $c) { totalCount } } }',
      ]) {
        gateway.statements.reset();
        expectError(await gateway.execute(query, { c: cursor }), 'BAD_USER_INPUT', /cursor/);
        expect(gateway.statements.count).toBe(0);
      }
    },
  );

  test('a cursor of another connection is rejected, not misread', async ({ gateway }) => {
    const { data } = await gateway.execute('{ timeline(first: 1) { pageInfo { endCursor } } }');
    const timelineCursor = data.timeline.pageInfo.endCursor;
    expectError(
      await gateway.execute('query ($c: String) { policyDecisions(after: $c) { totalCount } }', {
        c: timelineCursor,
      }),
      'BAD_USER_INPUT',
    );
    const page = await gateway.execute('{ policyDecisions(first: 1) { pageInfo { endCursor } } }');
    expectError(
      await gateway.execute('query ($c: String) { timeline(after: $c) { totalCount } }', {
        c: page.data.policyDecisions.pageInfo.endCursor,
      }),
      'BAD_USER_INPUT',
    );
  });
});

describe('forged and foreign cursors', () => {
  const b64 = (text: string) => Buffer.from(text).toString('base64');

  test.for<[string, string]>([
    ['one value too few', 'DC:T:["S:x"]'],
    ['numbers where a date and slug belong', 'DC:T:["N:1","N:2"]'],
    ['not a date', 'DC:T:["S:not-a-date","S:x"]'],
    ['year zero', 'DC:T:["S:0000-01-01","S:x"]'],
    ['SQL in a value', `DC:T:["S:2026-01-28' or 1=1 --","S:x"]`],
    ['not a tuple', 'DC:S:2026-01-28'],
  ])(
    'a forged cursor (%s) is BAD_USER_INPUT before any SQL runs',
    async ([_label, cursor], { gateway }) => {
      for (const query of [
        'query ($c: String) { policyDecisions(after: $c) { edges { cursor } } }',
        'query ($c: String) { company(slug: "nvidia") { policyDecisions(after: $c) { edges { cursor } } } }',
        'query ($c: String) { chip(slug: "h200") { policyDecisions(before: $c, last: 3) { edges { cursor } } } }',
      ]) {
        gateway.statements.reset();
        expectError(
          await gateway.execute(query, { c: b64(cursor) }),
          'BAD_USER_INPUT',
          /not a cursor this list issued/,
        );
        expect(gateway.statements.count).toBe(0);
      }
    },
  );

  test('a cursor of a list ordered by name is refused by lists ordered by date', async ({
    gateway,
  }) => {
    const { data } = await gateway.execute('{ companies(first: 1) { edges { cursor } } }');
    const cursor = data.companies.edges[0].cursor;
    for (const query of [
      'query ($c: String) { policyDecisions(after: $c) { totalCount } }',
      'query ($c: String) { demandSignals(after: $c) { totalCount } }',
      'query ($c: String) { chip(slug: "h200") { policyDecisions(after: $c) { totalCount } } }',
      'query ($c: String) { company(slug: "nvidia") { demandSignals(after: $c) { totalCount } } }',
    ]) {
      expectError(
        await gateway.execute(query, { c: cursor }),
        'BAD_USER_INPUT',
        /not a cursor this list issued/,
      );
    }
    // ... while the list it came from takes it.
    const next = await gateway.execute(
      'query ($c: String) { companies(first: 1, after: $c) { edges { node { slug } } } }',
      {
        c: cursor,
      },
    );
    expect(next.errors).toBeUndefined();
    expect(next.data.companies.edges).toHaveLength(1);
  });
});

describe('values', () => {
  test('year 0000 is refused as a date (PostgreSQL has no year zero)', async ({ gateway }) => {
    expectError(
      await gateway.execute(
        '{ chip(slug: "h200") { exportStatus(asOf: "0000-01-01") { exportEffect } } }',
      ),
      'GRAPHQL_VALIDATION_FAILED',
      /0001-01-01/,
    );
    expectError(
      await gateway.execute('query ($d: Date) { timeline(filter: { from: $d }) { totalCount } }', {
        d: '0000-12-31',
      }),
      'BAD_USER_INPUT',
    );
    const edge = await gateway.execute(
      '{ chip(slug: "h200") { exportStatus(asOf: "0001-01-01") { exportEffect } } }',
    );
    expect(edge.errors).toBeUndefined();
  });

  test('an invalid date in a filter literal fails validation', async ({ gateway }) => {
    const result = await gateway.execute(
      '{ policyDecisions(filter: { announcedFrom: "2025-13-45" }) { totalCount } }',
    );
    expectError(result, 'GRAPHQL_VALIDATION_FAILED', /2025-13-45/);
    expect(result.status).toBe(400);
  });

  test('an invalid date in a variable is BAD_USER_INPUT', async ({ gateway }) => {
    const result = await gateway.execute(
      'query ($d: Date) { policyDecisions(filter: { announcedFrom: $d }) { totalCount } }',
      {
        d: '2025-02-30',
      },
    );
    expectError(result, 'BAD_USER_INPUT', /\$d/);
  });

  test('an unknown enum value is a validation error; in a variable it is BAD_USER_INPUT', async ({
    gateway,
  }) => {
    expectError(
      await gateway.execute('{ policyDecisions(filter: { status: [ENACTED] }) { totalCount } }'),
      'GRAPHQL_VALIDATION_FAILED',
      /ENACTED/,
    );
    expectError(
      await gateway.execute(
        'query ($s: [PolicyStatus!]) { policyDecisions(filter: { status: $s }) { totalCount } }',
        {
          s: ['ENACTED'],
        },
      ),
      'BAD_USER_INPUT',
    );
  });

  test('a bad country code is rejected', async ({ gateway }) => {
    expectError(
      await gateway.execute(
        '{ chip(slug: "h200") { exportStatus(from: "USA") { exportEffect } } }',
      ),
      'GRAPHQL_VALIDATION_FAILED',
    );
    expectError(
      await gateway.execute(
        'query ($c: CountryCode!) { chip(slug: "h200") { exportStatus(to: $c) { exportEffect } } }',
        { c: 'ZZ' },
      ),
      'BAD_USER_INPUT',
    );
  });

  test('a NUL character in a literal or a variable is BAD_USER_INPUT, not a database error', async ({
    gateway,
  }) => {
    expectError(
      await gateway.execute('{ company(slug: "nv\\u0000idia") { name } }'),
      'BAD_USER_INPUT',
      /NUL/,
    );
    expectError(
      await gateway.execute('query ($s: String!) { company(slug: $s) { name } }', {
        s: 'nv\u0000idia',
      }),
      'BAD_USER_INPUT',
      /NUL/,
    );
  });

  test('a raw NUL is BAD_USER_INPUT inside a string literal, a lexer error (GRAPHQL_PARSE_FAILED) elsewhere', async ({
    gateway,
  }) => {
    expectError(
      await gateway.execute('{ company(slug: "nv\u0000idia") { name } }'),
      'BAD_USER_INPUT',
      /NUL/,
    );
    expectError(
      await gateway.execute('{ chips \u0000 { totalCount } }'),
      'GRAPHQL_PARSE_FAILED',
      /U\+0000/,
    );
  });

  test('variables nested 5,000 levels deep are BAD_USER_INPUT (400), logged as nothing unexpected', async ({
    gateway,
  }) => {
    const errors: unknown[] = [];
    const app = appOn(gateway.database, gateway.events, {
      logger: { debug() {}, info() {}, warn() {}, error: (...args) => errors.push(args) },
    });
    // Written as text: JSON.stringify itself would overflow on such a value.
    const arrays = `${'['.repeat(5_000)}"nvidia"${']'.repeat(5_000)}`;
    const objects = `${'{"and":'.repeat(5_000)}{"chip":"h200"}${'}'.repeat(5_000)}`;
    const filter =
      'query ($f: PolicyDecisionFilter) { policyDecisions(filter: $f) { totalCount } }';
    for (const [query, variables] of [
      ['query ($s: String!) { company(slug: $s) { name } }', `{"s":${arrays}}`],
      [filter, `{"f":${objects}}`],
      [filter, `{"f":{"status":${arrays}}}`],
    ] as const) {
      const response = await app.yoga.fetch('http://chipgate.test/graphql', {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/graphql-response+json',
        },
        body: `{"query":${JSON.stringify(query)},"variables":${variables}}`,
      });
      expect(response.status).toBe(400);
      expectError(await response.json(), 'BAD_USER_INPUT', /nest deeper than 64 levels/);
    }
    expect(errors).toEqual([]);
    // Within the depth limit, a wrong shape is still graphql-js' own coercion error.
    const shallow = await executeOn(app, 'query ($s: String!) { company(slug: $s) { name } }', {
      s: [[['nvidia']]],
    });
    expectError(shallow, 'BAD_USER_INPUT', /String cannot represent a non string value/);
    expect(errors).toEqual([]);
    await app.yoga.dispose();
  });

  test('a syntax error keeps GRAPHQL_PARSE_FAILED, an unknown field GRAPHQL_VALIDATION_FAILED', async ({
    gateway,
  }) => {
    expectError(await gateway.execute('{ chips( }'), 'GRAPHQL_PARSE_FAILED');
    expectError(await gateway.execute('{ chips { nope } }'), 'GRAPHQL_VALIDATION_FAILED');
  });
});

describe('limits', () => {
  test('the reference query at first: 50 and the GraphiQL story query are within the default limits', async ({
    gateway,
  }) => {
    const nested = await gateway.execute(NESTED_QUERY, { first: 50 });
    expect(nested.errors).toBeUndefined();
    const story = await gateway.execute(STORY_QUERY);
    expect(story.errors).toBeUndefined();
  });

  test('nested connections at first: 100 multiply and are refused as QUERY_TOO_COMPLEX', async ({
    gateway,
  }) => {
    gateway.statements.reset();
    const result = await gateway.execute(NESTED_QUERY.replaceAll('first: 10', 'first: 100'), {
      first: 100,
    });
    expectError(result, 'QUERY_TOO_COMPLEX', /too expensive: cost \d+, the limit is 50000/);
    expect(gateway.statements.count).toBe(0);
  });

  test('too deep is QUERY_TOO_COMPLEX', async ({ gateway }) => {
    const deep =
      '{ chip(slug: "h200") { derivedFrom { derivedFrom { derivedFrom { derivedFrom { derivedFrom { derivedFrom { derivedFrom { derivedFrom { derivedFrom { derivedFrom { derivedFrom { derivedFrom { slug } } } } } } } } } } } } } }';
    expectError(await gateway.execute(deep), 'QUERY_TOO_COMPLEX', /too deep/);
  });

  test('too many aliases is QUERY_TOO_COMPLEX', async ({ gateway }) => {
    const aliases = Array.from({ length: 31 }, (_, i) => `a${i}: chip(slug: "h200") { slug }`).join(
      ' ',
    );
    const result = await gateway.execute(`{ ${aliases} }`);
    expectError(result, 'QUERY_TOO_COMPLEX', /Aliases limit of 30/);
  });

  test('aliases of __typename count too (31 is QUERY_TOO_COMPLEX, 30 answer)', async ({
    gateway,
  }) => {
    const typenames = (n: number) =>
      `{ ${Array.from({ length: n }, (_, i) => `t${i}: __typename`).join(' ')} }`;
    expectError(await gateway.execute(typenames(31)), 'QUERY_TOO_COMPLEX', /Aliases limit of 30/);
    const allowed = await gateway.execute(typenames(30));
    expect(allowed.errors).toBeUndefined();
    expect(Object.keys(allowed.data ?? {})).toHaveLength(30);
    expect(allowed.data?.t29).toBe('Query');
  });

  test('too many tokens is QUERY_TOO_COMPLEX', async ({ gateway }) => {
    const fields = Array.from({ length: 6000 }, () => 'slug').join(' ');
    const result = await gateway.execute(`{ chip(slug: "h200") { ${fields} } }`);
    expectError(result, 'QUERY_TOO_COMPLEX', /Token limit/);
  });

  test('limits are configurable', async () => {
    const strict = await createTestGateway({ limits: { maxCost: 100, maxDepth: 4 } });
    try {
      expectError(await strict.execute(NESTED_QUERY, { first: 5 }), 'QUERY_TOO_COMPLEX');
      const ok = await strict.execute('{ chips(first: 5) { edges { node { slug } } } }');
      expect(ok.errors).toBeUndefined();
    } finally {
      await strict.close();
    }
  });
});
