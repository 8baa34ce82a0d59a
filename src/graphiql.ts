/**
 * GraphiQL for browsers: `GET /graphql` with `Accept: text/html` answers a small HTML shell;
 * the shell loads GraphiQL's files from `/graphiql/<name>.<hash>.<ext>` (see
 * `graphiql-assets.ts`). Every answer here:
 *
 * - is counted like any request against the caller's requests per minute: a caller whose limit
 *   is spent gets the same 429 `RATE_LIMITED` (with `Retry-After`) as for a GraphQL request,
 *   and every answer carries the `RateLimit-*` headers. The refusal is answered here, as JSON,
 *   whatever the browser's `Accept` header (which names no GraphQL response type);
 * - is sent compressed as the browser's `Accept-Encoding` allows (`br`, else `gzip`, else as
 *   shipped), with `Vary: Accept-Encoding` and an `ETag` per encoding (`If-None-Match` gets
 *   304);
 * - is cacheable: an asset for a year, `immutable` (its path changes with its bytes), the shell
 *   only after revalidation (`no-cache`: it names the current assets).
 *
 * A path under `/graphiql/` that names no asset is a 404 (after being counted). The files are
 * built when a browser first asks (see `buildGraphiQLFiles`: the package is loaded in a worker
 * thread, compression runs on the thread pool), never at start-up.
 */
import type { GraphQLError } from 'graphql';
import { type GraphiQLOptions, type Plugin, shouldRenderGraphiQL } from 'graphql-yoga';
import { ErrorCode } from './errors.js';
import {
  buildGraphiQLFiles,
  encodingFor,
  type GraphiQLFile,
  type GraphiQLFiles,
} from './graphiql-assets.js';

/** Where the assets are served: `/graphiql/<name>.<hash>.<ext>`. */
export const GRAPHIQL_ASSET_PREFIX = '/graphiql/';

/** `Cache-Control` of an asset: its path changes whenever its bytes do. */
const IMMUTABLE = 'public, max-age=31536000, immutable';

/** What `useGraphiQLPage` needs. */
export interface GraphiQLPageOptions {
  /** The GraphQL endpoint's path (`/graphql`); the shell is served there (and at `/graphql/`). */
  endpoint: string;
  /** GraphiQL's settings (title, default query, ...), carried by the shell. */
  graphiql: GraphiQLOptions;
  /**
   * Counts the request against its caller's limit: undefined when admitted, else the refusal
   * (`RATE_LIMITED`, whose `extensions.http` gives the status, 429, and `Retry-After`).
   */
  admit: (request: Request, serverContext: unknown) => Promise<GraphQLError | undefined>;
  /**
   * Builds the shell and the files (default: `buildGraphiQLFiles` from the package); called on
   * the first request, and again on the next one after a failure.
   */
  build?: (options: GraphiQLOptions, prefix: string) => Promise<GraphiQLFiles>;
}

/**
 * The answer to a request over its caller's limit, as JSON whatever the `Accept` header says:
 * the status and headers of the refusal's `extensions.http` (429, `Retry-After`), and
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

/** A GraphQL-shaped JSON error answer: HTTP status, message, `extensions.code`, extra headers. */
interface ErrorAnswer {
  status: number;
  message: string;
  code: string;
  headers?: Record<string, string>;
}

/** The answer to a path under the asset prefix that names no asset (like any unknown path). */
const NOT_FOUND: ErrorAnswer = {
  status: 404,
  message: 'No such GraphiQL file: the page names its files, and they change with each version.',
  code: ErrorCode.BAD_REQUEST,
};

/**
 * The answer when GraphiQL's files could not be built (the package failed to load): a 503 the
 * browser may retry, without the failure's details.
 */
const UNAVAILABLE: ErrorAnswer = {
  status: 503,
  message: 'GraphiQL could not be loaded; try again in a moment.',
  code: ErrorCode.INTERNAL_SERVER_ERROR,
  headers: { 'retry-after': '5' },
};

/** `answer` as a response: `{ errors: [{ message, extensions: { code } }] }`. */
function errorResponse(Response: typeof globalThis.Response, answer: ErrorAnswer): Response {
  const error = { message: answer.message, extensions: { code: answer.code } };
  return new Response(JSON.stringify({ errors: [error] }), {
    status: answer.status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...answer.headers },
  });
}

/** Whether an `If-None-Match` header names `etag` (or is `*`). */
function matches(ifNoneMatch: string | null, etag: string): boolean {
  if (!ifNoneMatch) return false;
  return ifNoneMatch
    .split(',')
    .map((tag) => tag.trim().replace(/^W\//, ''))
    .some((tag) => tag === etag || tag === '*');
}

/**
 * `file` as the request accepts it: 200 with the bytes (none for HEAD), or 304. Should its
 * compression fail (it is retried on the next request), the bytes go as shipped.
 */
async function fileResponse(
  request: Request,
  file: GraphiQLFile,
  cacheControl: string,
  Response: typeof globalThis.Response,
): Promise<Response> {
  let encoding = encodingFor(request.headers.get('accept-encoding'));
  const body = await file.body(encoding).catch(() => {
    encoding = 'identity';
    return file.body('identity');
  });
  const headers: Record<string, string> = {
    'cache-control': cacheControl,
    etag: file.etag(encoding),
    vary: 'Accept-Encoding',
  };
  if (matches(request.headers.get('if-none-match'), headers.etag as string)) {
    return new Response(null, { status: 304, headers });
  }
  headers['content-type'] = file.contentType;
  if (encoding !== 'identity') headers['content-encoding'] = encoding;
  if (request.method === 'HEAD') {
    headers['content-length'] = String(body.byteLength);
    return new Response(null, { status: 200, headers });
  }
  return new Response(body, { status: 200, headers });
}

/** Serves GraphiQL's shell and assets (see the module comment). */
export function useGraphiQLPage(options: GraphiQLPageOptions): Plugin {
  let files: Promise<GraphiQLFiles> | undefined;
  const filesOf = () => {
    if (!files) {
      files = (options.build ?? buildGraphiQLFiles)(options.graphiql, GRAPHIQL_ASSET_PREFIX);
      // A failure is not kept: the next request tries again.
      files.catch(() => {
        files = undefined;
      });
    }
    return files;
  };
  const shellPaths = new Set([options.endpoint, `${options.endpoint}/`]);
  return {
    async onRequest({ request, serverContext, url, endResponse, fetchAPI }) {
      const isAsset =
        url.pathname.startsWith(GRAPHIQL_ASSET_PREFIX) &&
        (request.method === 'GET' || request.method === 'HEAD');
      // HEAD answers what GET would (yoga's test names GET only).
      const isShell =
        !isAsset &&
        shellPaths.has(url.pathname) &&
        (request.method === 'HEAD'
          ? (request.headers.get('accept') ?? '').includes('text/html')
          : shouldRenderGraphiQL(request));
      if (!isAsset && !isShell) return;
      const refusal = await options.admit(request, serverContext);
      if (refusal) {
        endResponse(refusalResponse(refusal, fetchAPI.Response));
        return;
      }
      let built: GraphiQLFiles;
      try {
        built = await filesOf();
      } catch {
        endResponse(errorResponse(fetchAPI.Response, UNAVAILABLE));
        return;
      }
      const { shell, assets } = built;
      if (isShell) {
        endResponse(await fileResponse(request, shell, 'no-cache', fetchAPI.Response));
        return;
      }
      const asset = assets.get(url.pathname);
      endResponse(
        asset
          ? await fileResponse(request, asset, IMMUTABLE, fetchAPI.Response)
          : errorResponse(fetchAPI.Response, NOT_FOUND),
      );
    },
  };
}
