/**
 * A document nested deeper than `MAX_NESTING` (lists, objects, arguments, selection sets) is
 * refused before graphql-js' parser (which recurses once per level and overflows the stack past
 * a few thousand) reads it: `GRAPHQL_PARSE_FAILED`, HTTP 400, on every transport over a real
 * socket (POST, GET, SSE, graphql-ws), and by `documents add` (`prepareManifest`). Brackets in
 * strings, block strings and comments do not count.
 */
import type { GraphQLFormattedError } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { documentHash, prepareManifest } from '../src/access/documents.js';
import { MAX_NESTING, nestingError } from '../src/admission.js';
import { schema } from '../src/schema/index.js';
import { defaultLimits } from './helpers/gateway.js';
import {
  type InProcessGateway,
  postGraphQL,
  removeTempDirs,
  startInProcessGateway,
} from './helpers/server.js';
import { subscribeSse, subscribeWs, wsClient } from './helpers/subscribers.js';

let gateway: InProcessGateway;
beforeAll(async () => {
  gateway = await startInProcessGateway();
});
afterAll(async () => {
  await gateway?.stop();
  removeTempDirs();
});

const nest = (open: string, inner: string, close: string, levels: number) =>
  `${open.repeat(levels)}${inner}${close.repeat(levels)}`;

/**
 * Hostile documents under the token limit, each far deeper than `MAX_NESTING`; the list ones
 * deeper than graphql-js can parse (a `RangeError`, `INTERNAL_SERVER_ERROR` before the limit).
 */
const DEEP: [string, string][] = [
  ['a list argument', `{ nodes(ids: ${nest('[', '"x"', ']', 2_000)}) { id } }`],
  [
    'an object literal in a filter',
    `{ policyDecisions(filter: ${nest('{ and: ', '{ chip: "h200" }', ' }', 1_000)}) { totalCount } }`,
  ],
  [
    'a variable default',
    `query ($s: String = ${nest('[', '"x"', ']', 2_000)}) { company(slug: $s) { name } }`,
  ],
  [
    'a directive argument',
    `{ chips @include(if: ${nest('[', 'true', ']', 2_000)}) { totalCount } }`,
  ],
];

const DEEPER_THAN = new RegExp(`nests brackets deeper than ${MAX_NESTING} levels`);

/** What a transport answered: HTTP status (where there is one) and errors. */
interface Answer {
  status?: number;
  errors: GraphQLFormattedError[];
}

const viaPost = async (query: string): Promise<Answer> => {
  const { status, body } = await postGraphQL(gateway.url, query);
  return { status, errors: body.errors ?? [] };
};

const viaGet = async (query: string): Promise<Answer> => {
  const url = new URL(gateway.url);
  url.searchParams.set('query', query);
  const response = await fetch(url, {
    headers: { accept: 'application/graphql-response+json' },
    signal: AbortSignal.timeout(30_000),
  });
  const body = (await response.json()) as { errors?: GraphQLFormattedError[] };
  return { status: response.status, errors: body.errors ?? [] };
};

const viaSse = async (query: string): Promise<Answer> => {
  const stream = await subscribeSse(gateway.url, query);
  await stream.waitForComplete();
  return { errors: stream.results.flatMap((result) => result.errors ?? []) };
};

const viaWs = async (query: string): Promise<Answer> => {
  const client = wsClient(gateway.url);
  try {
    const operation = subscribeWs(client, query);
    await operation.waitForComplete();
    const refused = Array.isArray(operation.failure)
      ? (operation.failure as GraphQLFormattedError[])
      : [];
    return { errors: [...operation.results.flatMap((r) => r.errors ?? []), ...refused] };
  } finally {
    await client.dispose();
  }
};

describe('documents nested deeper than MAX_NESTING', () => {
  it.each([
    ['POST', viaPost],
    ['GET', viaGet],
    ['SSE', viaSse],
    ['graphql-ws', viaWs],
  ] as const)(
    'are GRAPHQL_PARSE_FAILED over %s, for every place values nest',
    async (_t, send) => {
      for (const [label, query] of DEEP) {
        const answer = await send(query);
        if (answer.status !== undefined) expect(answer.status, label).toBe(400);
        expect(answer.errors, label).toHaveLength(1);
        expect(answer.errors[0]?.extensions?.code, label).toBe('GRAPHQL_PARSE_FAILED');
        expect(answer.errors[0]?.message, label).toMatch(DEEPER_THAN);
        expect(JSON.stringify(answer.errors), label).not.toMatch(/stack|RangeError/);
      }
    },
    120_000,
  );

  it('a document at MAX_NESTING still runs, and brackets in strings and comments do not count', async () => {
    // The selection set and the argument take 2 levels; the list the rest.
    const atLimit = `{ nodes(ids: ${nest('[', '"x"', ']', MAX_NESTING - 2)}) { id } }`;
    expect(nestingError(atLimit)).toBeUndefined();
    expect(nestingError(atLimit.replace('[', '[['))).toBeDefined();
    const brackets = '['.repeat(5_000);
    const quoted = [
      `{ company(slug: "${brackets}") { name } }`,
      `{ company(slug: """${brackets} \\""" ${brackets}""") { name } }`,
      `# ${brackets}\n{ chips(first: 1) { totalCount } }`,
      `{ company(slug: "\\"${brackets}") { name } }`,
    ];
    for (const query of quoted) expect(nestingError(query), query.slice(0, 40)).toBeUndefined();
    const { status, body } = await postGraphQL(gateway.url, quoted[2] as string);
    expect(status).toBe(200);
    expect(body).toEqual({ data: { chips: { totalCount: 16 } } });
    // Past the limit, the answer is the same over HTTP whatever the document holds besides.
    const deep = await viaPost(`{ company(slug: "]]]") ${nest('{', ' name ', '}', 70)} }`);
    expect(deep.status).toBe(400);
    expect(deep.errors[0]?.message).toMatch(DEEPER_THAN);
  });

  it('documents add refuses them, naming the rule', () => {
    for (const [label, query] of DEEP) {
      const result = prepareManifest(
        schema,
        JSON.stringify({ [documentHash(query)]: query }),
        defaultLimits(),
      );
      expect('problems' in result && result.problems, label).toEqual([
        expect.stringMatching(DEEPER_THAN),
      ]);
    }
  });
});
