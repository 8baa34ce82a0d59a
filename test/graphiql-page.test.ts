/**
 * The GraphiQL page over a real socket, read with node:http (which, unlike fetch, leaves the
 * body as sent): compressed as the browser's Accept-Encoding allows, and counted against the
 * caller's requests per minute like any GraphQL request. (In a browser: graphiql.test.ts.)
 */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  clearOfMinuteBoundary,
  type InProcessGateway,
  removeTempDirs,
  startInProcessGateway,
} from './helpers/server.js';

/** A response as it came over the socket. */
interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** GET `url` as a browser asks for a page, plus `headers`; the body is not decoded. */
function getPage(url: string, headers: Record<string, string> = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      { headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8', ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
          }),
        );
        res.on('error', reject);
      },
    );
    req.setTimeout(60_000, () => req.destroy(new Error(`no answer from ${url} within 60 s`)));
    req.on('error', reject);
    req.end();
  });
}

const TITLE = '<title>chipgate: the AI-chip export story</title>';

describe('the GraphiQL page, compressed', () => {
  let gateway: InProcessGateway;
  beforeAll(async () => {
    gateway = await startInProcessGateway({ CHIPGATE_GRAPHIQL: 'true' });
  });
  afterAll(async () => {
    await gateway?.stop();
    removeTempDirs();
  });

  it('as brotli when accepted, gzip otherwise, and as rendered without Accept-Encoding', async () => {
    const plain = await getPage(gateway.url);
    expect(plain.status).toBe(200);
    expect(plain.headers['content-type']).toBe('text/html');
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.headers.vary).toMatch(/\bAccept-Encoding\b/i);
    const page = plain.body;
    expect(page.toString('utf8')).toContain(TITLE);
    // The page inlines GraphiQL's assets: megabytes, the reason it is compressed.
    expect(page.length).toBeGreaterThan(1_000_000);

    const br = await getPage(gateway.url, { 'accept-encoding': 'gzip, deflate, br, zstd' });
    expect(br.status).toBe(200);
    expect(br.headers['content-encoding']).toBe('br');
    expect(br.headers.vary).toMatch(/\bAccept-Encoding\b/i);
    expect(br.body.length).toBeLessThan(page.length / 4);
    expect(brotliDecompressSync(br.body).equals(page)).toBe(true);

    const gzip = await getPage(gateway.url, { 'accept-encoding': 'gzip, deflate' });
    expect(gzip.headers['content-encoding']).toBe('gzip');
    expect(gzip.headers.vary).toMatch(/\bAccept-Encoding\b/i);
    expect(gzip.body.length).toBeLessThan(page.length / 3);
    expect(gunzipSync(gzip.body).equals(page)).toBe(true);

    // q-values count: brotli refused, gzip preferred over nothing; nothing we have: as rendered.
    const noBrotli = await getPage(gateway.url, { 'accept-encoding': 'br;q=0, gzip;q=0.5' });
    expect(noBrotli.headers['content-encoding']).toBe('gzip');
    const unknown = await getPage(gateway.url, { 'accept-encoding': 'compress' });
    expect(unknown.headers['content-encoding']).toBeUndefined();
    expect(unknown.body.equals(page)).toBe(true);

    console.info(
      `GraphiQL page: ${page.length} bytes as rendered, ${br.body.length} as br, ` +
        `${gzip.body.length} as gzip`,
    );
  }, 120_000);
});

describe('the GraphiQL page, counted', () => {
  const LIMIT = 4;
  let gateway: InProcessGateway;
  beforeAll(async () => {
    gateway = await startInProcessGateway({
      CHIPGATE_GRAPHIQL: 'true',
      CHIPGATE_ANON_RATE_LIMIT: String(LIMIT),
    });
  });
  afterAll(async () => {
    await gateway?.stop();
    removeTempDirs();
  });

  it('as a request against the anonymous limit: over it, a 429 like a GraphQL request gets', async () => {
    await clearOfMinuteBoundary();
    for (let i = 1; i < LIMIT; i++) {
      const page = await getPage(gateway.url, { 'accept-encoding': 'br' });
      expect(page.status).toBe(200);
      expect(page.headers['ratelimit-limit']).toBe(String(LIMIT));
      expect(page.headers['ratelimit-remaining']).toBe(String(LIMIT - i));
    }
    // The same counter as GraphQL requests: this one spends the last request of the minute.
    const query = await fetch(gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(query.status).toBe(200);
    expect(query.headers.get('ratelimit-remaining')).toBe('0');
    await query.arrayBuffer();

    const refused = await getPage(gateway.url, { 'accept-encoding': 'br' });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect(refused.headers['ratelimit-limit']).toBe(String(LIMIT));
    expect(refused.headers['ratelimit-remaining']).toBe('0');
    expect(refused.headers['content-encoding']).toBeUndefined();
    const body = JSON.parse(refused.body.toString('utf8'));
    expect(body.errors[0].extensions.code).toBe('RATE_LIMITED');
    expect(body.errors[0].message).toMatch(
      new RegExp(`^Anonymous callers from this address may send ${LIMIT} requests per minute`),
    );

    // Whatever the browser accepts, the refusal is a 429 with Retry-After, never a 406.
    for (const accept of [
      'text/html',
      'text/html,application/xhtml+xml',
      'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
      'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7',
      'text/html;q=1, application/json;q=0, application/graphql-response+json;q=0',
    ]) {
      const page = await getPage(gateway.url, { accept, 'accept-encoding': 'gzip, br' });
      expect(page.status, accept).toBe(429);
      expect(Number(page.headers['retry-after']), accept).toBeGreaterThanOrEqual(1);
      expect(page.headers['ratelimit-remaining'], accept).toBe('0');
      expect(page.headers['content-encoding'], accept).toBeUndefined();
      const refusal = JSON.parse(page.body.toString('utf8'));
      expect(refusal.errors[0].extensions.code, accept).toBe('RATE_LIMITED');
    }

    // And a GraphQL request after it is refused the same way.
    const after = await fetch(gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(after.status).toBe(429);
    expect((await after.json()).errors[0].extensions.code).toBe('RATE_LIMITED');
  }, 120_000);
});
