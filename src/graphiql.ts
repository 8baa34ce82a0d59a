/**
 * The GraphiQL page that `GET /graphql` answers to a browser (a GET that accepts `text/html`).
 * The page inlines GraphiQL's assets (about 9 MB, no CDN), so it is:
 *
 * - counted like any request against the caller's requests per minute: a caller whose limit is
 *   spent gets the same 429 `RATE_LIMITED` (with `Retry-After`) as for a GraphQL request, and
 *   every answer carries the `RateLimit-*` headers. The refusal is answered here, as JSON,
 *   whatever the browser's `Accept` header (which names no GraphQL response type);
 * - sent compressed as the browser's `Accept-Encoding` allows (`br`, else `gzip`, else
 *   uncompressed), with `Vary: Accept-Encoding`. It is rendered when a browser first asks (the
 *   renderer's module takes a second or more to load) and each encoding is compressed once, on
 *   libuv's thread pool, so the event loop never waits for it.
 */
import { promisify } from 'node:util';
import { brotliCompress, gzip, constants as zlib } from 'node:zlib';
import { negotiate } from '@fastify/accept-negotiator';
import type { GraphQLError } from 'graphql';
import { type GraphiQLOptions, type Plugin, shouldRenderGraphiQL } from 'graphql-yoga';

const brotliAsync = promisify(brotliCompress);
const gzipAsync = promisify(gzip);

/**
 * The compressed encodings served, the preferred first. Measured on the 9 MB page (one core of
 * a loaded 2-core machine): brotli quality 5 gives 1.9 MB in about 2 s, quality 9 saves 4 % more
 * in 3x the time, 11 takes most of a minute; gzip at zlib's default level (6) gives 2.4 MB in
 * about 1 s, level 9 saves under 1 %.
 */
const COMPRESSORS = {
  br: (page: Uint8Array) =>
    brotliAsync(page, {
      params: {
        [zlib.BROTLI_PARAM_QUALITY]: 5,
        [zlib.BROTLI_PARAM_MODE]: zlib.BROTLI_MODE_TEXT,
        [zlib.BROTLI_PARAM_SIZE_HINT]: page.length,
      },
    }),
  gzip: (page: Uint8Array) => gzipAsync(page),
} satisfies Record<string, (page: Uint8Array) => Promise<Buffer>>;

/** A `Content-Encoding` the page is sent in; `identity` is the page as rendered. */
type PageEncoding = keyof typeof COMPRESSORS | 'identity';

/** Every encoding, in order of preference when the browser accepts several equally. */
const ENCODINGS = [...(Object.keys(COMPRESSORS) as PageEncoding[]), 'identity'] as PageEncoding[];

/**
 * The encoding to send for an `Accept-Encoding` header: the best one it accepts, `identity`
 * when it names none of ours (or has no header).
 */
function pageEncodingFor(acceptEncoding: string | null): PageEncoding {
  return negotiate(acceptEncoding ?? '', ENCODINGS) ?? 'identity';
}

/** A response body's bytes. */
type Body = Uint8Array<ArrayBuffer>;

/**
 * The bytes of a Buffer as a response body, without a copy: a Buffer this large (or from zlib)
 * has an ArrayBuffer of its own, never shared memory.
 */
function asBody(buffer: Buffer): Body {
  return new Uint8Array(buffer.buffer as ArrayBuffer, buffer.byteOffset, buffer.byteLength);
}

/**
 * The page in each encoding, produced once when first asked for (a failure is not kept: the
 * next request tries again).
 */
function pageBodies(options: GraphiQLOptions): (encoding: PageEncoding) => Promise<Body> {
  const bodies = new Map<PageEncoding, Promise<Body>>();
  const rendered = async () => {
    const { renderGraphiQL } = await import('@graphql-yoga/render-graphiql');
    return asBody(Buffer.from(renderGraphiQL(options)));
  };
  const produce = (encoding: PageEncoding): Promise<Body> =>
    encoding === 'identity'
      ? rendered()
      : bodyOf('identity').then(async (page) => asBody(await COMPRESSORS[encoding](page)));
  const bodyOf = (encoding: PageEncoding): Promise<Body> => {
    let body = bodies.get(encoding);
    if (!body) {
      body = produce(encoding);
      bodies.set(encoding, body);
      body.catch(() => bodies.delete(encoding));
    }
    return body;
  };
  return bodyOf;
}

/** What `useGraphiQLPage` needs. */
export interface GraphiQLPageOptions {
  /** The GraphQL endpoint's path (`/graphql`); the page is served there (and at `/graphql/`). */
  endpoint: string;
  /** GraphiQL's settings (title, default query, ...), rendered into the page. */
  graphiql: GraphiQLOptions;
  /**
   * Counts the request against its caller's limit: undefined when admitted, else the refusal
   * (`RATE_LIMITED`, whose `extensions.http` gives the status, 429, and `Retry-After`).
   */
  admit: (request: Request, serverContext: unknown) => Promise<GraphQLError | undefined>;
}

/**
 * The answer to a page request over its caller's limit, as JSON whatever the `Accept` header
 * says: the status and headers of the refusal's `extensions.http` (429, `Retry-After`), and
 * `{ errors: [refusal] }` without them. Left to the GraphQL path, a browser's `Accept:
 * text/html` would get 406 (it accepts no GraphQL response type) instead of the refusal.
 */
function refusalResponse(refusal: GraphQLError, Response: typeof globalThis.Response): Response {
  const { http, ...extensions } = refusal.extensions as {
    http?: { status?: number; headers?: Record<string, string> };
  };
  const body = { errors: [{ ...refusal.toJSON(), extensions }] };
  return new Response(JSON.stringify(body), {
    status: http?.status ?? 429,
    headers: { 'content-type': 'application/json; charset=utf-8', ...http?.headers },
  });
}

/** Serves the GraphiQL page (see the module comment). */
export function useGraphiQLPage(options: GraphiQLPageOptions): Plugin {
  const bodyOf = pageBodies(options.graphiql);
  const paths = new Set([options.endpoint, `${options.endpoint}/`]);
  return {
    async onRequest({ request, serverContext, url, endResponse, fetchAPI }) {
      if (!shouldRenderGraphiQL(request) || !paths.has(url.pathname)) return;
      const refusal = await options.admit(request, serverContext);
      if (refusal) {
        endResponse(refusalResponse(refusal, fetchAPI.Response));
        return;
      }
      const encoding = pageEncodingFor(request.headers.get('accept-encoding'));
      const body = await bodyOf(encoding);
      const headers: Record<string, string> = {
        'content-type': 'text/html',
        vary: 'Accept-Encoding',
      };
      if (encoding !== 'identity') headers['content-encoding'] = encoding;
      endResponse(new fetchAPI.Response(body, { status: 200, headers }));
    },
  };
}
