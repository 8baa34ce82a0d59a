/**
 * `CHIPGATE_INTROSPECTION=keys` over every transport, on a real socket: POST, GET, SSE and
 * graphql-ws. Anonymous callers (no key, or an empty or blank `Authorization` in
 * `connectionParams` or on the WebSocket upgrade) get no schema, no "Did you mean" hints and no
 * schema details in validation or variable messages (code and locations stay); messages that
 * only restate the document stay readable; keyed callers get everything.
 */
import type { GraphQLFormattedError } from 'graphql';
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createKey, type TestKey } from './helpers/keys.js';
import {
  type InProcessGateway,
  postGraphQL,
  removeTempDirs,
  startInProcessGateway,
} from './helpers/server.js';
import { subscribeSse, subscribeWs, wsClient } from './helpers/subscribers.js';

let gateway: InProcessGateway;
let key: TestKey;
beforeAll(async () => {
  gateway = await startInProcessGateway({ CHIPGATE_INTROSPECTION: 'keys' });
  key = await createKey(gateway.running.db.db, ['read'], 'introspects');
});
afterAll(async () => {
  await gateway?.stop();
  removeTempDirs();
});

/** What a transport answered: data (if any) and errors, as the client received them. */
interface Answer {
  data?: unknown;
  errors: GraphQLFormattedError[];
}

type Send = (query: string, variables?: Record<string, unknown>) => Promise<Answer>;

const answerOf = (results: { data?: unknown; errors?: readonly GraphQLFormattedError[] }[]) => ({
  data: results.find((result) => result.data)?.data,
  errors: results.flatMap((result) => result.errors ?? []),
});

const viaPost =
  (headers: Record<string, string> = {}): Send =>
  async (query, variables) => {
    const { body } = await postGraphQL(gateway.url, query, variables, headers);
    return answerOf([body]);
  };

const viaGet =
  (headers: Record<string, string> = {}): Send =>
  async (query, variables) => {
    const url = new URL(gateway.url);
    url.searchParams.set('query', query);
    if (variables) url.searchParams.set('variables', JSON.stringify(variables));
    const response = await fetch(url, {
      headers: { accept: 'application/graphql-response+json', ...headers },
      signal: AbortSignal.timeout(10_000),
    });
    return answerOf([(await response.json()) as Answer]);
  };

const viaSse =
  (headers: Record<string, string> = {}): Send =>
  async (query, variables) => {
    const stream = await subscribeSse(gateway.url, query, variables, headers);
    await stream.waitForComplete();
    return answerOf(stream.results);
  };

/**
 * graphql-ws with `connectionParams` and headers on the upgrade request (the `ws` package's
 * options; browsers cannot set them, other clients can).
 */
const viaWs =
  (connectionParams?: Record<string, unknown>, upgradeHeaders?: Record<string, string>): Send =>
  async (query, variables) => {
    const client = upgradeHeaders
      ? wsClientWithHeaders(connectionParams, upgradeHeaders)
      : wsClient(gateway.url, connectionParams);
    try {
      const operation = subscribeWs(client, query, variables);
      await operation.waitForComplete();
      // Errors before execution come as graphql-ws' `error` message (an array of errors).
      const refused = Array.isArray(operation.failure)
        ? [{ errors: operation.failure as GraphQLFormattedError[] }]
        : [];
      return answerOf([...operation.results, ...refused]);
    } finally {
      await client.dispose();
    }
  };

function wsClientWithHeaders(
  connectionParams: Record<string, unknown> | undefined,
  headers: Record<string, string>,
) {
  class WithHeaders extends WebSocket {
    constructor(address: string, protocols?: string | string[]) {
      super(address, protocols, { headers });
    }
  }
  return createClient({
    url: gateway.url.replace(/^http/, 'ws'),
    webSocketImpl: WithHeaders,
    lazy: false,
    retryAttempts: 0,
    onNonLazyError: () => {},
    ...(connectionParams ? { connectionParams } : {}),
  });
}

const HIDDEN =
  'The operation does not match the schema here (requests with an API key are told why).';

const anonymous: [string, () => Send][] = [
  ['POST', () => viaPost()],
  ['GET', () => viaGet()],
  ['SSE', () => viaSse()],
  ['WebSocket without connectionParams', () => viaWs()],
  ['WebSocket with authorization ""', () => viaWs({ authorization: '' })],
  ['WebSocket with authorization " "', () => viaWs({ authorization: ' ' })],
  ['WebSocket with an empty Authorization header', () => viaWs(undefined, { authorization: '' })],
];

describe.each(anonymous)('anonymous over %s', (_name, transport) => {
  const send = (query: string, variables?: Record<string, unknown>) =>
    transport()(query, variables);

  it('gets no __schema and no __type', async () => {
    for (const query of ['{ __schema { description } }', '{ __type(name: "Chip") { name } }']) {
      const answer = await send(query);
      expect(answer.data).toBeUndefined();
      expect(answer.errors).toEqual([
        expect.objectContaining({
          message: expect.stringMatching(/^GraphQL introspection has been disabled/),
          extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
        }),
      ]);
    }
  });

  it('gets codes and locations but no schema details, no hints, in validation errors', async () => {
    const answer = await send(
      '{ company { name }\n  chips(filter: { designedForChinaMarkt: true }) { totalCount } compny(slug: "x") { name } }',
    );
    expect(answer.data).toBeUndefined();
    expect(answer.errors).toEqual([
      {
        message: HIDDEN,
        locations: [{ line: 1, column: 3 }],
        extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
      },
      {
        message: HIDDEN,
        locations: [{ line: 2, column: 19 }],
        extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
      },
      {
        message: HIDDEN,
        locations: [{ line: 2, column: 65 }],
        extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
      },
    ]);
  });

  it('keeps messages that only restate the document (syntax, unused variable)', async () => {
    const syntax = await send('{ company(slug: }');
    expect(syntax.errors).toEqual([
      expect.objectContaining({
        message: 'Syntax Error: Unexpected "}".',
        locations: [{ line: 1, column: 17 }],
        extensions: { code: 'GRAPHQL_PARSE_FAILED' },
      }),
    ]);
    const unused = await send('query Q($unused: Int) { __typename }');
    expect(unused.errors).toEqual([
      {
        message: 'Variable "$unused" is never used in operation "Q".',
        locations: [{ line: 1, column: 9 }],
        extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
      },
    ]);
  });

  it("gets refused variables without the input type's fields; its own scalar types stay explained", async () => {
    const filter = await send(
      'query ($f: PolicyDecisionFilter) { policyDecisions(filter: $f) { totalCount } }',
      { f: { jurisdictio: ['US'], status: ['IN_EFECT'] } },
    );
    expect(filter.data).toBeUndefined();
    expect(filter.errors.length).toBeGreaterThan(0);
    for (const error of filter.errors) {
      expect(error).toEqual({
        message: expect.stringMatching(
          /^Variable "\$f" got invalid value .* \(requests with an API key are told why\)\.$/,
        ),
        locations: [{ line: 1, column: 8 }],
        extensions: { code: 'BAD_USER_INPUT' },
      });
      expect(error.message).not.toMatch(/jurisdiction"|IN_EFFECT|Did you mean|not defined/);
    }
    const missing = await send('query ($slug: String!) { company(slug: $slug) { name } }', {});
    expect(missing.errors).toEqual([
      {
        message: 'Variable "$slug" of required type "String!" was not provided.',
        locations: [{ line: 1, column: 8 }],
        extensions: { code: 'BAD_USER_INPUT' },
      },
    ]);
    const scalar = await send('query ($slug: String!) { company(slug: $slug) { name } }', {
      slug: 5,
    });
    expect(scalar.errors).toEqual([
      expect.objectContaining({
        message:
          'Variable "$slug" got invalid value 5; String cannot represent a non string value: 5',
        extensions: { code: 'BAD_USER_INPUT' },
      }),
    ]);
  });
});

describe.each([
  ['SSE', () => viaSse()],
  ['WebSocket', () => viaWs({ authorization: '' })],
])('an anonymous subscription over %s', (_name, transport) => {
  it("gets refused variables without the input type's fields", async () => {
    const answer = await transport()(
      'subscription ($f: PolicyDecisionFilter) { policyDecisionUpdated(filter: $f) { toStatus } }',
      { f: { jurisdictio: ['US'] } },
    );
    expect(answer.errors).toEqual([
      {
        message:
          'Variable "$f" got invalid value { jurisdictio: ["US"] } (requests with an API key are told why).',
        locations: [{ line: 1, column: 15 }],
        extensions: { code: 'BAD_USER_INPUT' },
      },
    ]);
  });
});

describe.each([
  ['POST', () => viaPost(key.headers)],
  ['GET', () => viaGet(key.headers)],
  ['SSE', () => viaSse(key.headers)],
  ['WebSocket', () => viaWs({ authorization: key.headers.authorization })],
])('a caller with a key over %s', (_name, transport) => {
  it('gets the schema and every detail', async () => {
    const send = transport();
    expect(await send('{ __schema { queryType { name } } }')).toEqual({
      data: { __schema: { queryType: { name: 'Query' } } },
      errors: [],
    });
    const invalid = await send('{ company { name } compny(slug: "x") { name } }');
    expect(invalid.errors.map((error) => error.message)).toEqual([
      'Field "company" argument "slug" of type "String!" is required, but it was not provided.',
      'Cannot query field "compny" on type "Query". Did you mean "company"?',
    ]);
    const filter = await send(
      'query ($f: PolicyDecisionFilter) { policyDecisions(filter: $f) { totalCount } }',
      { f: { jurisdictio: ['US'] } },
    );
    expect(filter.errors.map((error) => error.message)).toEqual([
      'Variable "$f" got invalid value { jurisdictio: ["US"] }; Field "jurisdictio" is not defined by type "PolicyDecisionFilter". Did you mean "jurisdiction"?',
    ]);
  });
});
