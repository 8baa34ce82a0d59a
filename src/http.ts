/**
 * The HTTP edges of the GraphQL endpoint that yoga leaves open, closed: every malformed request
 * gets a 4xx with a GraphQL error body (`extensions.code` = `BAD_REQUEST`), never a 200 with a
 * masked error, an empty body, or a silently repaired input.
 */
import { GraphQLError, type StringValueNode, type ValidationContext } from 'graphql';
import { createGraphQLError, type GraphQLParams, type Plugin } from 'graphql-yoga';
import { MAX_NESTING } from './admission.js';

/** An error about the HTTP request itself (not the operation); `status` is its HTTP status. */
function requestError(message: string, status = 400): GraphQLError {
  return createGraphQLError(message, { extensions: { code: 'BAD_REQUEST', http: { status } } });
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The content codings of a request body other than `identity`, lower case (empty: a plain
 * body). None is decoded: GraphQL bodies are small, and decoding would let a few kilobytes of
 * gzip expand past the body size limit (a decompression bomb) before the limit could see it.
 */
function bodyEncodings(request: Request): string[] {
  return (request.headers.get('content-encoding') ?? '')
    .split(',')
    .map((coding) => coding.trim().toLowerCase())
    .filter((coding) => coding !== '' && coding !== 'identity');
}

function mediaType(request: Request): string {
  return (request.headers.get('content-type') ?? '').split(/[;,]/)[0]?.trim().toLowerCase() ?? '';
}

/** The body as text; invalid UTF-8 is refused rather than silently replaced with U+FFFD. */
async function readUtf8Body(request: Request): Promise<string> {
  let bytes: ArrayBuffer;
  try {
    bytes = await request.arrayBuffer();
  } catch (error) {
    // yoga's body size limit fails the stream with its own 413 error.
    if (error instanceof GraphQLError) throw error;
    const cause = (error as { cause?: unknown } | undefined)?.cause;
    if (cause instanceof GraphQLError) throw cause;
    throw requestError('Could not read the request body.');
  }
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw requestError('The request body is not valid UTF-8.');
  }
}

function parseJsonBody(text: string): GraphQLParams | GraphQLParams[] {
  if (text.trim() === '') {
    throw requestError('The request body is empty: POST a JSON object with a "query" string.');
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    throw requestError(`POST body sent invalid JSON: ${(error as Error).message}`);
  }
  if (body === null || typeof body !== 'object') {
    throw requestError(
      `POST body is expected to be a JSON object but received ${body === null ? 'null' : typeof body}.`,
    );
  }
  return body as GraphQLParams | GraphQLParams[];
}

function jsonSearchParam(
  params: URLSearchParams,
  name: string,
): Record<string, unknown> | undefined {
  const raw = params.get(name);
  if (!raw) return undefined;
  try {
    // Its type (object or not) is checked by yoga with the other parameters.
    return JSON.parse(raw);
  } catch {
    throw requestError(`The "${name}" query-string parameter is not valid JSON.`);
  }
}

const badInput = (message: string) =>
  createGraphQLError(message, { extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } } });

const nulError = () => badInput('Text must not contain the NUL character (U+0000).');

/**
 * Refuses variables nested deeper than `MAX_NESTING` or holding a NUL character, with
 * `BAD_USER_INPUT`. Iterative: a hostile body of thousands of nested arrays must not overflow the
 * stack (as a recursive `JSON.stringify` would) before the request is refused. Every transport
 * calls it: HTTP here (`useHttpEdges`), WebSocket operations in ws.ts.
 */
export function checkVariables(variables: unknown): void {
  const stack: { value: unknown; depth: number }[] = [{ value: variables, depth: 0 }];
  for (let item = stack.pop(); item; item = stack.pop()) {
    const { value, depth } = item;
    if (typeof value === 'string') {
      if (value.includes('\u0000')) throw nulError();
      continue;
    }
    if (value === null || typeof value !== 'object') continue;
    if (depth >= MAX_NESTING) {
      throw badInput(
        `Variables nest deeper than ${MAX_NESTING} levels of lists or objects; no input of this API needs that.`,
      );
    }
    for (const [key, child] of Object.entries(value)) {
      if (key.includes('\u0000')) throw nulError();
      stack.push({ value: child, depth: depth + 1 });
    }
  }
}

const EMPTY_ERROR_MESSAGES: Record<number, string> = {
  404: 'Not found. The GraphQL endpoint is /graphql.',
  406:
    'Not acceptable: queries and mutations answer application/graphql-response+json or ' +
    'application/json; subscriptions need "Accept: text/event-stream" (or the ' +
    'graphql-transport-ws WebSocket protocol); operations with @defer or @stream need ' +
    '"Accept: multipart/mixed" or "Accept: text/event-stream".',
  415: 'Unsupported media type: POST the operation as JSON with "Content-Type: application/json".',
};

/**
 * The HTTP edges yoga leaves open, closed:
 * - GET parameters that are not JSON are a 400 naming the parameter (yoga: a masked
 *   INTERNAL_SERVER_ERROR, with HTTP 200);
 * - POST bodies must be JSON in valid UTF-8; anything else is a 415 or 400 with a GraphQL error
 *   body (form posts are refused: they are CORS "simple requests", a CSRF vector);
 * - a POST body with a `Content-Encoding` other than `identity` (gzip, deflate, br or an
 *   unknown one) is a 415 with `Accept-Encoding: identity`, never decoded nor read as it is;
 * - request errors keep their 4xx status even when the client accepts `application/json`
 *   (yoga answers "Must provide query string." with 200 there);
 * - 4xx responses yoga sends without a body (404, 406, 415) get a GraphQL error body;
 * - with CORS origins configured, responses vary by `Origin`.
 */
export function useHttpEdges(corsOrigins: readonly string[]): Plugin {
  return {
    onRequestParse({ request, setRequestParser }) {
      if (request.method === 'GET') {
        setRequestParser((req) => {
          const params = new URL(req.url, 'http://localhost').searchParams;
          return {
            query: params.get('query') || undefined,
            // A registered trusted document's id (see `useTrustedDocuments`).
            documentId: params.get('documentId') || undefined,
            operationName: params.get('operationName') || undefined,
            variables: jsonSearchParam(params, 'variables'),
            extensions: jsonSearchParam(params, 'extensions'),
          };
        });
        return;
      }
      // Other methods: yoga answers 405.
      if (request.method !== 'POST') return;
      const encodings = bodyEncodings(request);
      if (encodings.length > 0) {
        throw createGraphQLError(
          `Content-Encoding "${encodings.join(', ')}" is not supported: send the request body uncompressed (no Content-Encoding, or "identity").`,
          {
            extensions: {
              code: 'BAD_REQUEST',
              // RFC 7694: a 415 for a content coding names the codings that are accepted.
              http: { status: 415, headers: { 'accept-encoding': 'identity' } },
            },
          },
        );
      }
      const type = mediaType(request);
      if (type !== 'application/json' && type !== 'application/graphql+json') {
        throw requestError(EMPTY_ERROR_MESSAGES[415] as string, 415);
      }
      // yoga wraps this parser with its body size limit (`maxRequestBodySize`).
      setRequestParser(async (req) => parseJsonBody(await readUtf8Body(req)));
    },
    onParams({ params }) {
      // Postgres text cannot hold U+0000; refuse it here rather than fail in the database.
      if (params.variables) checkVariables(params.variables);
    },
    onValidate({ addValidationRule }) {
      // The same for string literals in the document (a raw NUL or the escape `\u0000`). A NUL
      // anywhere else in the document is the parser's to refuse (GRAPHQL_PARSE_FAILED).
      addValidationRule((context: ValidationContext) => ({
        StringValue(node: StringValueNode) {
          if (node.value.includes('\u0000')) {
            context.reportError(
              new GraphQLError('Text must not contain the NUL character (U+0000).', {
                nodes: [node],
                extensions: { code: 'BAD_USER_INPUT' },
              }),
            );
          }
        },
      }));
    },
    onResultProcess({ result }) {
      const errors = (result as { errors?: readonly GraphQLError[] }).errors;
      if (!Array.isArray(errors)) return;
      for (const error of errors) {
        const http = error.extensions?.http as { spec?: boolean } | undefined;
        if (error.extensions?.code === 'BAD_REQUEST' && http?.spec) http.spec = false;
      }
    },
    onResponse({ request, response, setResponse, fetchAPI }) {
      if (corsOrigins.length > 0) response.headers.append('vary', 'Origin');
      const { status } = response;
      if (
        status < 400 ||
        status >= 500 ||
        response.headers.has('content-type') ||
        request.method === 'HEAD' ||
        request.method === 'OPTIONS'
      ) {
        return;
      }
      const headers = new fetchAPI.Headers(response.headers);
      headers.set('content-type', 'application/json; charset=utf-8');
      headers.delete('content-length');
      const message = EMPTY_ERROR_MESSAGES[status] ?? `The request failed with HTTP ${status}.`;
      const body = JSON.stringify({ errors: [{ message, extensions: { code: 'BAD_REQUEST' } }] });
      setResponse(
        new fetchAPI.Response(body, { status, statusText: response.statusText, headers }),
      );
    },
  } as Plugin;
}
