/**
 * GraphiQL's shell and assets over a real socket, read with node:http (which, unlike fetch,
 * leaves the body as sent): a small shell naming hashed assets that are GraphiQL's own built
 * files, each compressed as the browser's Accept-Encoding allows, cacheable (immutable assets,
 * a revalidated shell), and counted against the caller's requests per minute like any GraphQL
 * request; when the files cannot be built, a 503 without details. (In a browser:
 * graphiql.test.ts.)
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import {
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type Server,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import * as shipped from '@graphql-yoga/render-graphiql/graphiql';
import { createSchema, createYoga } from 'graphql-yoga';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useGraphiQLPage } from '../src/graphiql.js';
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

const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,*/*;q=0.8';

/** `method` `url` as a browser asks for a page, plus `headers`; the body is not decoded. */
function get(
  url: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      { method, headers: { accept: BROWSER_ACCEPT, ...headers } },
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
const IMMUTABLE = 'public, max-age=31536000, immutable';
const ASSET = /^\/graphiql\/([a-z-]+)\.([\w-]{22})\.(js|css|ico)$/;

/** The asset paths a shell names in `src` and `href` attributes, and in its start script. */
function assetPaths(html: string): string[] {
  return [...html.matchAll(/(?:src|href)="(\/graphiql\/[^"]+)"/g)].map((m) => m[1] as string);
}

/** The first 22 characters of the base64url SHA-256 of `bytes` (what an asset path carries). */
const hashOf = (bytes: Buffer) =>
  createHash('sha256').update(bytes).digest('base64url').slice(0, 22);

describe('GraphiQL: a small shell and hashed, compressed, cacheable assets', () => {
  let gateway: InProcessGateway;
  beforeAll(async () => {
    gateway = await startInProcessGateway({ CHIPGATE_GRAPHIQL: 'true' });
  });
  afterAll(async () => {
    await gateway?.stop();
    removeTempDirs();
  });

  it('the shell: small, revalidated (ETag, 304), naming its assets', async () => {
    const shell = await get(gateway.url);
    expect(shell.status).toBe(200);
    expect(shell.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(shell.headers['cache-control']).toBe('no-cache');
    expect(shell.headers.vary).toMatch(/\bAccept-Encoding\b/i);
    expect(shell.headers['content-encoding']).toBeUndefined();
    const html = shell.body.toString('utf8');
    expect(html).toContain(TITLE);
    // GraphiQL's settings (the default query among them) travel as JSON inside the page.
    expect(html).toContain('"defaultQuery":"');
    expect(html).toContain('query H200Story');
    expect(shell.body.length).toBeLessThan(10_000);
    const etag = shell.headers.etag as string;
    expect(etag).toMatch(/^"[\w-]{22}"$/);

    // HEAD: the shell's headers, no body (as for the assets).
    const head = await get(gateway.url, {}, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.headers.etag).toBe(etag);
    expect(head.headers['content-length']).toBe(String(shell.body.length));
    expect(head.body.length).toBe(0);

    const again = await get(gateway.url, { 'if-none-match': etag });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
    expect(again.headers.etag).toBe(etag);
    // Another representation's tag (the brotli one) is not this one's.
    const br = await get(gateway.url, { 'accept-encoding': 'br' });
    expect(br.headers['content-encoding']).toBe('br');
    expect(br.headers.etag).not.toBe(etag);
    expect(brotliDecompressSync(br.body).equals(shell.body)).toBe(true);
    expect(
      (await get(gateway.url, { 'if-none-match': etag, 'accept-encoding': 'br' })).status,
    ).toBe(200);
    expect(
      (
        await get(gateway.url, {
          'if-none-match': `W/"x", ${br.headers.etag}`,
          'accept-encoding': 'br',
        })
      ).status,
    ).toBe(304);

    const paths = assetPaths(html);
    expect(paths.map((p) => ASSET.exec(p)?.[1]).sort()).toEqual([
      'favicon',
      'graphiql',
      'graphiql',
      'start',
    ]);
  });

  it("the assets are render-graphiql's own files, byte for byte, at paths carrying their hash", async () => {
    const html = (await get(gateway.url)).body.toString('utf8');
    const byName = new Map<string, Buffer>();
    const fetchAsset = async (path: string) => {
      const asset = await get(`${gateway.origin}${path}`, { accept: '*/*' });
      expect(asset.status, path).toBe(200);
      expect(asset.headers['cache-control'], path).toBe(IMMUTABLE);
      expect(asset.headers.etag, path).toMatch(/^"[\w-]{22}"$/);
      const [, name, hash, extension] = ASSET.exec(path) ?? [];
      expect(hashOf(asset.body), path).toBe(hash);
      expect(asset.headers['content-type'], path).toBe(
        {
          js: 'text/javascript; charset=utf-8',
          css: 'text/css; charset=utf-8',
          ico: 'image/x-icon',
        }[extension as string],
      );
      byName.set(`${name}.${extension}`, asset.body);
      return asset.body;
    };
    for (const path of assetPaths(html)) await fetchAsset(path);
    // The start script names the workers, which Monaco loads from their own URLs.
    const start = (byName.get('start.js') as Buffer).toString('utf8');
    const workers = [...start.matchAll(/"(\/graphiql\/[^"]+)"/g)].map((m) => m[1] as string);
    expect(workers.map((p) => ASSET.exec(p)?.[1]).sort()).toEqual([
      'editor-worker',
      'graphql-worker',
      'json-worker',
    ]);
    for (const path of workers) await fetchAsset(path);

    expect(byName.get('graphiql.js')?.equals(Buffer.from(shipped.js))).toBe(true);
    expect(byName.get('graphiql.css')?.equals(Buffer.from(shipped.css))).toBe(true);
    expect(byName.get('editor-worker.js')?.equals(Buffer.from(shipped.editorWorkerService))).toBe(
      true,
    );
    expect(byName.get('json-worker.js')?.equals(Buffer.from(shipped.jsonWorker))).toBe(true);
    expect(byName.get('graphql-worker.js')?.equals(Buffer.from(shipped.graphqlWorker))).toBe(true);
    expect(`data:image/x-icon;base64,${byName.get('favicon.ico')?.toString('base64')}`).toBe(
      shipped.favicon,
    );
  });

  it('each asset as brotli when accepted, gzip otherwise, as shipped without Accept-Encoding', async () => {
    const html = (await get(gateway.url)).body.toString('utf8');
    const script = assetPaths(html).find(
      (p) => ASSET.exec(p)?.[1] === 'graphiql' && p.endsWith('.js'),
    );
    const url = `${gateway.origin}${script}`;
    const plain = await get(url);
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.headers.vary).toMatch(/\bAccept-Encoding\b/i);
    const js = plain.body;

    const br = await get(url, { 'accept-encoding': 'gzip, deflate, br, zstd' });
    expect(br.status).toBe(200);
    expect(br.headers['content-encoding']).toBe('br');
    expect(br.headers.vary).toMatch(/\bAccept-Encoding\b/i);
    expect(br.headers['cache-control']).toBe(IMMUTABLE);
    expect(br.body.length).toBeLessThan(js.length / 3);
    expect(brotliDecompressSync(br.body).equals(js)).toBe(true);

    const gzip = await get(url, { 'accept-encoding': 'gzip, deflate' });
    expect(gzip.headers['content-encoding']).toBe('gzip');
    expect(gzip.body.length).toBeLessThan(js.length / 3);
    expect(gunzipSync(gzip.body).equals(js)).toBe(true);
    // One tag per representation, and each revalidates itself only.
    const tags = new Set([plain.headers.etag, br.headers.etag, gzip.headers.etag]);
    expect(tags.size).toBe(3);
    const revalidated = await get(url, {
      'accept-encoding': 'br',
      'if-none-match': br.headers.etag as string,
    });
    expect(revalidated.status).toBe(304);
    expect(revalidated.body.length).toBe(0);

    // q-values count: brotli refused, gzip preferred over nothing; nothing we have: as shipped.
    const noBrotli = await get(url, { 'accept-encoding': 'br;q=0, gzip;q=0.5' });
    expect(noBrotli.headers['content-encoding']).toBe('gzip');
    const unknown = await get(url, { 'accept-encoding': 'compress' });
    expect(unknown.headers['content-encoding']).toBeUndefined();
    expect(unknown.body.equals(js)).toBe(true);

    // HEAD: the headers of the GET, no body.
    const head = await get(url, { 'accept-encoding': 'br' }, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe(String(br.body.length));
    expect(head.body.length).toBe(0);

    let total = { plain: 0, br: 0, gzip: 0 };
    for (const path of assetPaths(html)) {
      const sizes = await Promise.all(
        ['identity', 'br', 'gzip'].map(
          async (encoding) =>
            (await get(`${gateway.origin}${path}`, { 'accept-encoding': encoding })).body.length,
        ),
      );
      total = {
        plain: total.plain + (sizes[0] as number),
        br: total.br + (sizes[1] as number),
        gzip: total.gzip + (sizes[2] as number),
      };
    }
    console.info(
      `GraphiQL script: ${js.length} bytes as shipped, ${br.body.length} as br, ${gzip.body.length} as gzip; ` +
        `shell + page assets (workers aside): ${total.plain} bytes, ${total.br} as br, ${total.gzip} as gzip`,
    );
  }, 120_000);

  it('a path under /graphiql/ that names no asset is a 404 with a GraphQL error', async () => {
    for (const path of ['/graphiql/graphiql.AAAAAAAAAAAAAAAAAAAAAA.js', '/graphiql/']) {
      const missing = await get(`${gateway.origin}${path}`, { accept: '*/*' });
      expect(missing.status, path).toBe(404);
      expect(missing.headers['content-type'], path).toBe('application/json; charset=utf-8');
      expect(JSON.parse(missing.body.toString('utf8')).errors[0].extensions.code, path).toBe(
        'BAD_REQUEST',
      );
    }
  });
});

describe('GraphiQL, counted', () => {
  const LIMIT = 5;
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

  it('shell and assets count against the anonymous limit: over it, a 429 like a GraphQL request gets', async () => {
    await clearOfMinuteBoundary();
    const shell = await get(gateway.url, { 'accept-encoding': 'br' });
    expect(shell.status).toBe(200);
    expect(shell.headers['ratelimit-limit']).toBe(String(LIMIT));
    expect(shell.headers['ratelimit-remaining']).toBe(String(LIMIT - 1));
    const [css, script] = assetPaths(
      shell.body.length ? brotliDecompressSync(shell.body).toString('utf8') : '',
    );
    const asset = await get(`${gateway.origin}${css}`, { 'accept-encoding': 'br' });
    expect(asset.status).toBe(200);
    expect(asset.headers['ratelimit-remaining']).toBe(String(LIMIT - 2));
    const revalidated = await get(`${gateway.origin}${css}`, {
      'accept-encoding': 'br',
      'if-none-match': asset.headers.etag as string,
    });
    expect(revalidated.status).toBe(304);
    expect(revalidated.headers['ratelimit-remaining']).toBe(String(LIMIT - 3));
    const missing = await get(`${gateway.origin}/graphiql/nothing.js`, { accept: '*/*' });
    expect(missing.status).toBe(404);
    expect(missing.headers['ratelimit-remaining']).toBe(String(LIMIT - 4));
    // The same counter as GraphQL requests: this one spends the last request of the minute.
    const query = await fetch(gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(query.status).toBe(200);
    expect(query.headers.get('ratelimit-remaining')).toBe('0');
    await query.arrayBuffer();

    const refusedAsset = await get(`${gateway.origin}${script}`, {
      accept: '*/*',
      'accept-encoding': 'br',
    });
    expect(refusedAsset.status).toBe(429);
    expect(refusedAsset.headers['cache-control']).toBeUndefined();
    expect(Number(refusedAsset.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(JSON.parse(refusedAsset.body.toString('utf8')).errors[0].extensions.code).toBe(
      'RATE_LIMITED',
    );

    const refused = await get(gateway.url, { 'accept-encoding': 'br' });
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
      const page = await get(gateway.url, { accept, 'accept-encoding': 'gzip, br' });
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

describe('GraphiQL, when its files cannot be built', () => {
  let server: Server;
  let origin: string;
  let builds = 0;
  beforeAll(async () => {
    const yoga = createYoga({
      schema: createSchema({ typeDefs: 'type Query { ok: Boolean }' }),
      graphiql: false,
      plugins: [
        useGraphiQLPage({
          endpoint: '/graphql',
          graphiql: { title: 'broken' },
          admit: async () => undefined,
          build: async () => {
            builds += 1;
            throw new Error('Cannot find module /srv/secret/render-graphiql');
          },
        }),
      ],
    });
    server = createServer(yoga);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
  });

  it('answers 503 with Retry-After and no detail, and tries again on the next request', async () => {
    for (const path of ['/graphql', '/graphiql/graphiql.AAAAAAAAAAAAAAAAAAAAAA.js']) {
      const answer = await get(`${origin}${path}`);
      expect(answer.status, path).toBe(503);
      expect(answer.headers['retry-after'], path).toBe('5');
      const text = answer.body.toString('utf8');
      expect(text, path).not.toMatch(/secret|render-graphiql|Error/);
      expect(JSON.parse(text).errors[0].extensions.code, path).toBe('INTERNAL_SERVER_ERROR');
    }
    expect(builds).toBe(2);
  });
});
