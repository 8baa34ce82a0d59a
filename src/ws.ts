/**
 * The `graphql-transport-ws` WebSocket transport on `/graphql` (graphql-ws' protocol server over
 * `ws`, through our socket layer `src/live/ws-socket.ts`: one serialisation per cohort, a byte
 * bound per socket past which slow subscriptions are dropped, one heartbeat timer per instance),
 * beside yoga's HTTP and SSE on the same port. Operations run through yoga's envelope, so they
 * get the same schema, limits (armor, complexity), context and error masking as HTTP requests.
 */
import type { IncomingMessage, Server } from 'node:http';
import { type ExecutionArgs, type ExecutionResult, GraphQLError } from 'graphql';
import type { YogaServerInstance } from 'graphql-yoga';
import { WebSocketServer } from 'ws';
import type { KeySessions } from './access/sessions.js';
import { authorizationOf } from './auth.js';
import type { Context } from './context.js';
import { ErrorCode } from './errors.js';
import { checkVariables } from './http.js';
import { formattedError } from './live/results.js';
import { type SocketOptions, serveWebSocket } from './live/ws-socket.js';

/** A running WebSocket transport. */
export interface WebSocketTransport {
  /** Open WebSocket connections. */
  readonly connections: number;
  /**
   * Closes every socket with code 1001 (going away) and stops accepting. Subscriptions should
   * have been completed before (the event hub's `close()`), so clients got "complete" first.
   */
  close(): Promise<void>;
}

type Enveloped = ReturnType<YogaServerInstance<Record<string, unknown>, Context>['getEnveloped']>;

/**
 * Serves graphql-ws on `server` at `path`. A browser's cross-origin upgrade is refused unless
 * its origin is in `corsOrigins` (same-origin pages and non-browser clients, which send no
 * `Origin`, are accepted). At most `maxOperations` operations may be open on one socket; more
 * get a `RATE_LIMITED` error. A connection opened with an API key is registered with `sessions`,
 * which closes it with 4403 when the key is revoked. A result over `maxResponseBytes` of JSON is
 * replaced by a `RESPONSE_TOO_LARGE` error (see `src/response-size.ts`). Every socket is pinged
 * on each beat of `heartbeat` and terminated when it did not answer the previous ping. A
 * subscription whose socket holds more than `maxBufferedBytes` unsent when its next result is
 * due is dropped with `SLOW_CONSUMER` (see `src/live/ws-socket.ts`); `onDrop` is told (the
 * metric), `onError` gets unexpected socket failures (the log).
 */
export function attachWebSocket(
  server: Server,
  yoga: YogaServerInstance<Record<string, unknown>, Context>,
  options: Omit<SocketOptions, 'isProd'> & {
    path: string;
    corsOrigins: string[];
    maxOperations: number;
    sessions?: KeySessions;
  },
): WebSocketTransport {
  /** Forgets a keyed connection (from `sessions`) when its socket closes. */
  const forget = new WeakMap<object, () => void>();
  const wsServer = new WebSocketServer({
    server,
    path: options.path,
    // Operations are small (the HTTP body limit is 1 MiB; the token limit far smaller).
    maxPayload: 1_048_576,
    verifyClient: ({ origin, req }: { origin: string | undefined; req: IncomingMessage }) => {
      if (!origin) return true;
      if (options.corsOrigins.includes(origin)) return true;
      try {
        return new URL(origin).host === req.headers.host;
      } catch {
        return false;
      }
    },
  });
  const disposable = serveWebSocket(
    wsServer,
    {
      execute: (args) => (args.rootValue as Enveloped).execute(args),
      subscribe: (args) => (args.rootValue as Enveloped).subscribe(args),
      // A key in `connectionParams.authorization` is checked once when the socket opens; a
      // malformed, unknown or revoked one closes it with 4403 (graphql-ws' "Forbidden").
      onConnect: async (ctx) => {
        const initial = { connectionParams: ctx.connectionParams, req: ctx.extra.request };
        const mark = options.sessions?.mark() ?? 0;
        let context: Context;
        try {
          context = (await yoga.getEnveloped(initial).contextFactory()) as unknown as Context;
        } catch {
          return false;
        }
        const authorization = authorizationOf(initial);
        if (options.sessions && context.viewer.kind === 'apiKey' && authorization) {
          const { socket } = ctx.extra;
          forget.set(
            ctx,
            options.sessions.addConnection(
              {
                keyId: context.viewer.id,
                authorization,
                close: (code, reason) => socket.close(code, reason),
              },
              mark,
            ),
          );
        }
        return true;
      },
      onClose: (ctx) => forget.get(ctx)?.(),
      // The result's JSON, built once per result object (so once per cohort and event), without
      // yoga's HTTP details (`extensions.http`), size-capped; or SLOW_CONSUMER (see ws-socket).
      onNext: (ctx, id, _payload, _args, result) =>
        ctx.extra.outbox.next(id, result as ExecutionResult, ctx.subscriptions[id]),
      onComplete: (ctx, id) => ctx.extra.outbox.forget(id),
      // HTTP details (`extensions.http`: the status yoga would answer) mean nothing here.
      onError: (_ctx, _id, _payload, errors) => errors.map(formattedError),
      onSubscribe: async (ctx, _id, payload) => {
        // One socket may not hold unbounded work: each open operation is a subscriber.
        if (Object.keys(ctx.subscriptions).length > options.maxOperations) {
          return [
            new GraphQLError(
              `Too many operations on this connection: at most ${options.maxOperations} may be ` +
                'open at once. Complete one first, or open another connection.',
              { extensions: { code: ErrorCode.RATE_LIMITED } },
            ),
          ];
        }
        // As over HTTP: no NUL (PostgreSQL text cannot hold it), no absurd nesting.
        try {
          if (payload.variables) checkVariables(payload.variables);
        } catch (error) {
          return [error as GraphQLError];
        }
        const enveloped = yoga.getEnveloped({
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params: payload,
          connectionParams: ctx.connectionParams,
        });
        let document: ReturnType<Enveloped['parse']>;
        try {
          document = enveloped.parse(payload.query);
        } catch (error) {
          return [withCode(error, ErrorCode.GRAPHQL_PARSE_FAILED)];
        }
        // The context (who is calling) before validation: what validation may tell the caller
        // about the schema depends on it (see access/introspection.ts).
        let contextValue: unknown;
        try {
          contextValue = await enveloped.contextFactory();
        } catch (error) {
          // The key was revoked since the socket opened.
          return [withCode(error, ErrorCode.UNAUTHENTICATED)];
        }
        const errors = enveloped.validate(enveloped.schema, document);
        if (errors.length > 0) {
          return errors.map((error: GraphQLError) =>
            withCode(error, ErrorCode.GRAPHQL_VALIDATION_FAILED),
          );
        }
        const args: ExecutionArgs = {
          schema: enveloped.schema,
          operationName: payload.operationName ?? null,
          document,
          variableValues: payload.variables ?? null,
          contextValue,
          rootValue: enveloped,
        };
        return args;
      },
    },
    {
      heartbeat: options.heartbeat,
      maxResponseBytes: options.maxResponseBytes,
      maxBufferedBytes: options.maxBufferedBytes,
      ...(options.dropGraceMs === undefined ? {} : { dropGraceMs: options.dropGraceMs }),
      ...(options.onDrop ? { onDrop: options.onDrop } : {}),
      ...(options.onError ? { onError: options.onError } : {}),
    },
  );
  return {
    get connections() {
      return wsServer.clients.size;
    },
    async close() {
      await disposable.dispose();
    },
  };
}

/** The error as a GraphQLError with `extensions.code` (its own, else `code`), like over HTTP. */
function withCode(error: unknown, code: ErrorCode): GraphQLError {
  if (error instanceof GraphQLError && error.extensions.code) return error;
  const message = error instanceof Error ? error.message : 'Invalid operation.';
  return new GraphQLError(message, {
    ...(error instanceof GraphQLError ? { nodes: error.nodes, source: error.source } : {}),
    extensions: { code },
  });
}
