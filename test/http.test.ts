/**
 * HTTP over a real socket (the gateway started in process on 127.0.0.1): malformed requests get
 * a 4xx with a GraphQL error body, never a 500, a hang or internals; health and readiness; CORS.
 */
import { request as httpRequest } from 'node:http';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type InProcessGateway,
  postGraphQL,
  removeTempDirs,
  startInProcessGateway,
} from './helpers/server.js';

const NVIDIA = '{ company(slug: "nvidia") { name } }';

let gateway: InProcessGateway;
let corsGateway: InProcessGateway;
beforeAll(async () => {
  [gateway, corsGateway] = await Promise.all([
    startInProcessGateway(),
    startInProcessGateway({ CHIPGATE_CORS_ORIGINS: 'https://dash.example.com' }),
  ]);
});
afterAll(async () => {
  await Promise.all([gateway?.stop(), corsGateway?.stop()]);
  removeTempDirs();
});

interface Sent {
  status: number;
  headers: Headers;
  text: string;
}

/** One request over the socket; a hang fails the test after 10 s. */
async function send(pathAndQuery: string, init: RequestInit = {}): Promise<Sent> {
  const response = await fetch(new URL(pathAndQuery, gateway.origin), {
    ...init,
    signal: AbortSignal.timeout(10_000),
  });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

function post(body: BodyInit, contentType = 'application/json', accept?: string): Promise<Sent> {
  return send('/graphql', {
    method: 'POST',
    headers: { 'content-type': contentType, ...(accept ? { accept } : {}) },
    body,
  });
}

function get(params: Record<string, string>, accept?: string): Promise<Sent> {
  return send(`/graphql?${new URLSearchParams(params)}`, accept ? { headers: { accept } } : {});
}

/** A response a client can act on: 4xx, a JSON GraphQL error body, and no internals. */
function expectRequestError(
  sent: Sent,
  status: number,
  message: RegExp,
  code: string | undefined = 'BAD_REQUEST',
): void {
  expect(sent.status, sent.text).toBe(status);
  expect(sent.headers.get('content-type')).toMatch(/^application\/(graphql-response\+)?json/);
  const body = JSON.parse(sent.text);
  expect(body.data).toBeUndefined();
  expect(body.errors).toHaveLength(1);
  expect(body.errors[0].message).toMatch(message);
  expect(body.errors[0].extensions?.code).toBe(code);
  expectNoInternals(sent.text);
}

function expectNoInternals(text: string): void {
  // Stack frames, source paths, SQL.
  expect(text).not.toMatch(/\bat .+:\d+:\d+|node_modules|\.ts\b|\bselect\b.+\bfrom\b|\bSQL\b/i);
}

describe('well-formed requests', () => {
  it('answers a POST query with the data', async () => {
    const sent = await post(JSON.stringify({ query: NVIDIA }));
    expect(sent.status).toBe(200);
    expect(sent.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(JSON.parse(sent.text)).toEqual({ data: { company: { name: 'NVIDIA Corporation' } } });
  });

  it('answers a GET query, with variables in the query string', async () => {
    const sent = await get({
      query: 'query ($slug: String!) { company(slug: $slug) { name } }',
      variables: JSON.stringify({ slug: 'nvidia' }),
    });
    expect(sent.status).toBe(200);
    expect(JSON.parse(sent.text)).toEqual({ data: { company: { name: 'NVIDIA Corporation' } } });
  });

  it('answers with application/graphql-response+json when asked', async () => {
    const { status, headers, body } = await postGraphQL(gateway.url, NVIDIA);
    expect(status).toBe(200);
    expect(headers.get('content-type')).toBe('application/graphql-response+json; charset=utf-8');
    expect(body).toEqual({ data: { company: { name: 'NVIDIA Corporation' } } });
  });

  it('accepts a body just under the 1 MiB limit', async () => {
    // An unused variable pads the body to about 1,000,000 bytes.
    const body = JSON.stringify({ query: NVIDIA, variables: { pad: 'x'.repeat(1_000_000) } });
    expect(body.length).toBeLessThan(1_048_576);
    const sent = await post(body);
    expect(sent.status).toBe(200);
    expect(JSON.parse(sent.text).data.company.name).toBe('NVIDIA Corporation');
  });
});

describe('malformed POST bodies', () => {
  it.each([
    ['invalid JSON', '{"query": "{ __typename }"', /^POST body sent invalid JSON: /],
    ['an empty body', '', /^The request body is empty/],
    ['a JSON array (batch)', `[${JSON.stringify({ query: NVIDIA })}]`, /Batching is not supported/],
    ['a JSON number', '42', /expected to be a JSON object but received number/],
    ['a JSON string', JSON.stringify(NVIDIA), /expected to be a JSON object but received string/],
    ['JSON null', 'null', /expected to be a JSON object but received null/],
    ['no query', JSON.stringify({ variables: {} }), /^Must provide query string\.$/],
    ['a null query', JSON.stringify({ query: null }), /^Must provide query string\.$/],
    ['a numeric query', JSON.stringify({ query: 42 }), /"query" param to be a string.*number/],
    ['an object query', JSON.stringify({ query: { a: 1 } }), /"query" param to be a string/],
    [
      'string variables',
      JSON.stringify({ query: NVIDIA, variables: '{"slug":"nvidia"}' }),
      /"variables" param to be empty or an object, but given string/,
    ],
    [
      'array variables',
      JSON.stringify({ query: NVIDIA, variables: [1] }),
      /"variables" param to be empty or an object, but given array/,
    ],
    [
      'numeric variables',
      JSON.stringify({ query: NVIDIA, variables: 7 }),
      /"variables" param to be empty or an object, but given number/,
    ],
    [
      'string extensions',
      JSON.stringify({ query: NVIDIA, extensions: 'x' }),
      /"extensions" param to be empty or an object/,
    ],
    [
      'an unknown parameter',
      JSON.stringify({ query: NVIDIA, mutation: 'x' }),
      /Unexpected parameter "mutation"/,
    ],
  ])('%s: 400 with a GraphQL error, whatever the client accepts', async (_name, body, message) => {
    for (const accept of [undefined, 'application/json', 'application/graphql-response+json']) {
      expectRequestError(await post(body, 'application/json', accept), 400, message);
    }
  });

  it('invalid UTF-8: 400, not a query with U+FFFD in it', async () => {
    const before = Buffer.from('{"query":"{ company(slug: \\"nv');
    const after = Buffer.from('idia\\") { name } }"}');
    const body = Buffer.concat([before, Buffer.from([0xff, 0xfe]), after]);
    expectRequestError(await post(body), 400, /^The request body is not valid UTF-8\.$/);
  });

  it('an overlong UTF-8 encoding: 400', async () => {
    // 0xC0 0xAF is an overlong "/", which lenient decoders have turned into a real slash.
    const body = Buffer.concat([
      Buffer.from('{"query":"{ company(slug: \\"nvidia'),
      Buffer.from([0xc0, 0xaf]),
      Buffer.from('\\") { name } }"}'),
    ]);
    expectRequestError(await post(body), 400, /not valid UTF-8/);
  });

  it('a body over 1 MiB with Content-Length: 413 before it is read', async () => {
    const body = JSON.stringify({ query: NVIDIA, variables: { pad: 'x'.repeat(2_000_000) } });
    expectRequestError(await post(body), 413, /too large/, 'REQUEST_ENTITY_TOO_LARGE');
  });

  it('a chunked body over 1 MiB (no Content-Length): 413, and the server stays up', async () => {
    const url = new URL(gateway.url);
    const sent = await new Promise<Sent>((resolve, reject) => {
      const req = httpRequest(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: 'POST',
          headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
          timeout: 10_000,
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            text += chunk;
          });
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              headers: new Headers(res.headers as Record<string, string>),
              text,
            }),
          );
        },
      );
      req.on('timeout', () => req.destroy(new Error('timed out')));
      // The server may answer and stop reading before the whole upload went out.
      req.on('error', (error: NodeJS.ErrnoException) => {
        if (error.code !== 'EPIPE' && error.code !== 'ECONNRESET') reject(error);
      });
      req.write(`{"query":${JSON.stringify(NVIDIA)},"variables":{"pad":"`);
      const chunk = 'x'.repeat(64 * 1024);
      for (let i = 0; i < 40; i++) req.write(chunk);
      req.end('"}}');
    });
    expectRequestError(sent, 413, /too large/, 'REQUEST_ENTITY_TOO_LARGE');
    expect((await postGraphQL(gateway.url, NVIDIA)).body.data.company.name).toBe(
      'NVIDIA Corporation',
    );
  });
});

describe('compressed request bodies (Content-Encoding)', () => {
  const json = JSON.stringify({ query: NVIDIA });
  const postEncoded = (encoding: string, body: BodyInit) =>
    send('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': encoding },
      body,
    });

  it.each([
    ['gzip', gzipSync(json), 'gzip'],
    ['deflate', deflateSync(json), 'deflate'],
    ['br', brotliCompressSync(json), 'br'],
    ['GZip', gzipSync(json), 'gzip'],
    ['gzip, identity', gzipSync(json), 'gzip'],
  ])('%s: 415 saying the body must be sent uncompressed', async (encoding, body, named) => {
    const sent = await postEncoded(encoding, body);
    expectRequestError(
      sent,
      415,
      /^Content-Encoding ".+" is not supported: send the request body uncompressed \(no Content-Encoding, or "identity"\)\.$/,
    );
    expect(JSON.parse(sent.text).errors[0].message).toContain(`"${named}"`);
    // RFC 7694: a 415 for a content coding names the codings the server accepts.
    expect(sent.headers.get('accept-encoding')).toBe('identity');
  });

  it('an unknown encoding over a plain body: 415 too, not ignored', async () => {
    expectRequestError(await postEncoded('x-chipgate-test', json), 415, /"x-chipgate-test"/);
  });

  it('identity (or an empty header) is the plain body: answered', async () => {
    for (const encoding of ['identity', 'Identity', '']) {
      const sent = await postEncoded(encoding, json);
      expect(sent.status, sent.text).toBe(200);
      expect(JSON.parse(sent.text).data.company.name).toBe('NVIDIA Corporation');
    }
  });
});

describe('wrong content types and methods', () => {
  it.each([
    ['text/plain', JSON.stringify({ query: NVIDIA })],
    ['multipart/form-data; boundary=xyz', '--xyz\r\ngarbage\r\n--xyz--'],
    ['multipart/form-data; boundary=xyz', 'garbage without a boundary'],
    ['application/x-www-form-urlencoded', `query=${encodeURIComponent(NVIDIA)}`],
    ['application/xml', '<query/>'],
  ])('POST with %s: 415 with a GraphQL error', async (contentType, body) => {
    expectRequestError(await post(body, contentType), 415, /Unsupported media type/);
  });

  it('POST without a content type: 415', async () => {
    const sent = await send('/graphql', {
      method: 'POST',
      body: new Blob([JSON.stringify({ query: NVIDIA })]),
    });
    expectRequestError(sent, 415, /Unsupported media type/);
  });

  it.each(['PUT', 'DELETE', 'PATCH'])('%s: 405 naming GET and POST', async (method) => {
    const sent = await send('/graphql', {
      method,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: NVIDIA }),
    });
    expectRequestError(sent, 405, /only supports GET and POST/);
    expect(sent.headers.get('allow')).toBe('GET, POST');
  });

  it('a result type the client does not accept: 406 with a JSON error body', async () => {
    const sent = await post(JSON.stringify({ query: NVIDIA }), 'application/json', 'text/csv');
    expectRequestError(sent, 406, /^Not acceptable/);
  });
});

describe('malformed GET requests', () => {
  it.each([
    [
      { query: NVIDIA, variables: 'not-json' },
      400,
      /"variables" query-string parameter is not valid JSON/,
    ],
    [
      { query: NVIDIA, extensions: '{oops' },
      400,
      /"extensions" query-string parameter is not valid JSON/,
    ],
    [{ query: NVIDIA, variables: '[1,2]' }, 400, /"variables" param to be empty or an object/],
    [{ query: NVIDIA, variables: '"x"' }, 400, /"variables" param to be empty or an object/],
    [{ variables: '{}' }, 400, /^Must provide query string\.$/],
    [{}, 400, /^Must provide query string\.$/],
  ])('%j: %i', async (params, status, message) => {
    for (const accept of [undefined, 'application/json', 'application/graphql-response+json']) {
      expectRequestError(await get(params, accept), status, message);
    }
  });

  it('a mutation over GET: 405, POST only', async () => {
    const sent = await get({ query: 'mutation { __typename }' });
    expectRequestError(sent, 405, /mutation operation from a POST request/);
    expect(sent.headers.get('allow')).toBe('POST');
  });

  it('a syntax error: 400 with application/graphql-response+json', async () => {
    const sent = await get({ query: '{ company(' }, 'application/graphql-response+json');
    expectRequestError(sent, 400, /^Syntax Error/, 'GRAPHQL_PARSE_FAILED');
  });
});

describe('other paths', () => {
  it.each(['/', '/nope', '/graphql/extra', '/graphq'])(
    '%s: 404 with a GraphQL error',
    async (p) => {
      expectRequestError(await send(p), 404, /^Not found\. The GraphQL endpoint is \/graphql\.$/);
      expectRequestError(
        await send(p, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{}',
        }),
        404,
        /^Not found/,
      );
    },
  );

  it('GET /graphql from a browser: the GraphiQL page, whose renderer loads on first use', async () => {
    const pages = await Promise.all(
      [1, 2].map(() => send('/graphql', { headers: { accept: 'text/html' } })),
    );
    for (const page of pages) {
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      expect(page.text).toContain('<title>chipgate: the AI-chip export story</title>');
    }
    expect(pages[1]?.text).toBe(pages[0]?.text);
  });

  it('GET /health: 200', async () => {
    const sent = await send('/health');
    expect(sent.status).toBe(200);
  });

  it('GET /ready: 200 while the database answers', async () => {
    const sent = await send('/ready');
    expect(sent.status).toBe(200);
  });
});

describe('readiness without a database', () => {
  let doomed: InProcessGateway;
  beforeAll(async () => {
    doomed = await startInProcessGateway();
  });
  afterAll(async () => {
    await doomed?.stop();
  });

  it('GET /ready: 503 once the database is gone, while /health stays 200', async () => {
    const ready = async () =>
      (await fetch(new URL('/ready', doomed.origin), { signal: AbortSignal.timeout(10_000) }))
        .status;
    expect(await ready()).toBe(200);
    await doomed.running.db.close();
    expect(await ready()).toBe(503);
    const health = await fetch(new URL('/health', doomed.origin), {
      signal: AbortSignal.timeout(10_000),
    });
    expect(health.status).toBe(200);
    // A query now fails without internals: on a server, as an outage clients may retry (503,
    // Retry-After, see Operating); the embedded database is only closed at shutdown.
    const { status, headers, body } = await postGraphQL(doomed.url, NVIDIA);
    if (doomed.running.db.kind === 'postgres') {
      expect(status).toBe(503);
      expect(Number(headers.get('retry-after'))).toBeGreaterThan(0);
      expect(body.errors[0].extensions.code).toBe('DATABASE_UNAVAILABLE');
    } else {
      expect(status).toBeLessThan(600);
      expect(body.errors[0]).toMatchObject({
        message: 'Unexpected error.',
        extensions: { code: 'INTERNAL_SERVER_ERROR' },
      });
    }
    expectNoInternals(JSON.stringify(body));
  });
});

describe('CORS', () => {
  const preflight = (target: InProcessGateway, origin: string) =>
    fetch(target.url, {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      },
      signal: AbortSignal.timeout(10_000),
    });
  const crossOriginPost = (target: InProcessGateway, origin: string) =>
    fetch(target.url, {
      method: 'POST',
      headers: { origin, 'content-type': 'application/json' },
      body: JSON.stringify({ query: NVIDIA }),
      signal: AbortSignal.timeout(10_000),
    });

  it('without CHIPGATE_CORS_ORIGINS: no CORS headers for any origin', async () => {
    for (const origin of ['https://dash.example.com', 'https://evil.example.com', 'null']) {
      const pre = await preflight(gateway, origin);
      expect(pre.status).toBeGreaterThanOrEqual(400);
      expect(pre.status).toBeLessThan(500);
      expect(pre.headers.get('access-control-allow-origin')).toBeNull();
      expect(pre.headers.get('access-control-allow-methods')).toBeNull();
      const res = await crossOriginPost(gateway, origin);
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
      // Same-origin clients and servers are not affected.
      expect((await res.json()).data.company.name).toBe('NVIDIA Corporation');
    }
  });

  it('with CHIPGATE_CORS_ORIGINS: the configured origin passes the preflight', async () => {
    const pre = await preflight(corsGateway, 'https://dash.example.com');
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('https://dash.example.com');
    expect(pre.headers.get('access-control-allow-methods')).toContain('POST');
    expect(pre.headers.get('access-control-allow-headers')).toContain('content-type');
    expect(pre.headers.get('access-control-allow-credentials')).toBeNull();
    expect(pre.headers.get('vary')).toMatch(/\bOrigin\b/);
    const res = await crossOriginPost(corsGateway, 'https://dash.example.com');
    expect(res.headers.get('access-control-allow-origin')).toBe('https://dash.example.com');
    expect((await res.json()).data.company.name).toBe('NVIDIA Corporation');
  });

  it.each(['https://evil.example.com', 'null', 'https://dash.example.com.evil.example.com'])(
    'with CHIPGATE_CORS_ORIGINS: %s gets no CORS headers',
    async (origin) => {
      const pre = await preflight(corsGateway, origin);
      expect(pre.status).toBeLessThan(500);
      expect(pre.headers.get('access-control-allow-origin')).toBeNull();
      expect(pre.headers.get('access-control-allow-methods')).toBeNull();
      const res = await crossOriginPost(corsGateway, origin);
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
      expect(res.headers.get('vary')).toMatch(/\bOrigin\b/);
    },
  );
});
