/**
 * The yoga plugins of partner access:
 *
 * - `usePartnerAccess`: authenticates every GraphQL HTTP request as it arrives (before any
 *   cache can answer it) and counts it against the caller's requests per minute; charges each
 *   operation's cost before it executes; holds a slot per open subscription. Refusals are
 *   `RATE_LIMITED` (HTTP 429 with `Retry-After`), and nothing of the operation runs. Every
 *   response carries `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset`.
 *   WebSocket operations (no HTTP request each) are counted when they execute.
 * - `useTrustedDocuments`: runs registered documents by `documentId` (or APQ's hash) with yoga's
 *   persisted-operations plugin, Automatic Persisted Queries with yoga's APQ plugin, and keeps
 *   persisted-only keys to registered documents.
 */
import { useAPQ } from '@graphql-yoga/plugin-apq';
import { usePersistedOperations } from '@graphql-yoga/plugin-persisted-operations';
import type { ExecutionArgs, GraphQLError } from 'graphql';
import { createGraphQLError, isAsyncIterable, type Plugin } from 'graphql-yoga';
import type { Viewer } from '../auth.js';
import { authenticate, authorizationOf } from '../auth.js';
import type { Database } from '../db/client.js';
import { ErrorCode, PersistedQueryOnlyError, type RateLimitedError } from '../errors.js';
import { operationComplexity, type QueryLimits } from '../operation-limits.js';
import type { CounterResult } from './counters.js';
import type { Access, EffectiveLimits } from './index.js';
import { type EndableStream, endable, endOnAbort, type SessionMark } from './sessions.js';
import type { SlotLease } from './subscription-slots.js';

/** What the HTTP admission learned about a request. */
interface Admission {
  viewer: Viewer;
  subject: string;
  limits: EffectiveLimits;
  /** The request counter after this request (for the RateLimit-* headers). */
  requests: CounterResult;
  /** The change-feed position before the key was read (see `KeySessions.mark`). */
  mark: SessionMark;
}

const admissions = new WeakMap<Request, Admission>();
/** The change-feed position before a WebSocket operation's key was read, by its context. */
const marks = new WeakMap<object, SessionMark>();
/** Contexts of WebSocket operations, counted when they execute. */
const uncounted = new WeakSet<object>();

/**
 * What the plugin reads of a request's context: who calls, who the limits count the request
 * against, and the per-operation limits. The app's `Context` has all three.
 */
export interface AccessContext {
  viewer: Viewer;
  subject?: string;
  limits: QueryLimits;
}

/** The server context node:http gives yoga (and graphql-ws its upgrade request). */
interface NodeServerContext {
  req?: {
    socket?: { remoteAddress?: string | undefined };
    headers: Record<string, string | string[] | undefined>;
  };
}

/**
 * The client's address: the socket's peer, or with `trustProxy` = N proxies in front, the
 * address the outermost trusted proxy saw (N entries from the right of `X-Forwarded-For`,
 * counting the peer). Spoofed entries further left are ignored.
 */
export function clientAddress(
  peer: string | undefined,
  forwardedFor: string | null | undefined,
  trustProxy: number,
): string {
  const socket = peer ?? 'unknown';
  if (trustProxy === 0 || !forwardedFor) return socket;
  const chain = [
    ...forwardedFor
      .split(',')
      .map((entry) => entry.trim())
      .filter(Boolean),
    socket,
  ];
  return chain[Math.max(0, chain.length - 1 - trustProxy)] ?? socket;
}

function headerOf(req: NodeServerContext['req'], name: string): string | undefined {
  const value = req?.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/**
 * The authenticated viewer of a GraphQL context, undefined while it is not known: an HTTP
 * request's from its admission (before yoga builds the context), a WebSocket operation's from
 * its built context. Never guessed from a header being present.
 */
export function viewerOf(context: Record<string, unknown>): Viewer | undefined {
  const request = context.request as Request | undefined;
  const admitted = request ? admissions.get(request) : undefined;
  return admitted?.viewer ?? (context.viewer as Viewer | undefined);
}

/**
 * The viewer and limit subject of a context. HTTP requests were admitted when they arrived;
 * a WebSocket operation is authenticated here (from its connection's key) and counted when it
 * executes. For `createApp`'s context factory.
 */
export async function accessContext(
  access: Access,
  db: Database,
  initial: Record<string, unknown> & NodeServerContext & { request?: Request },
): Promise<{ viewer: Viewer; subject: string; access: Access }> {
  const admitted = initial.request ? admissions.get(initial.request) : undefined;
  if (admitted) return { viewer: admitted.viewer, subject: admitted.subject, access };
  marks.set(initial, access.sessions.mark());
  const viewer = await authenticate(
    db,
    authorizationOf(initial as Parameters<typeof authorizationOf>[0]),
  );
  const address = clientAddress(
    initial.req?.socket?.remoteAddress,
    headerOf(initial.req, 'x-forwarded-for'),
    access.config.trustProxy,
  );
  return { viewer, subject: access.subjectOf(viewer, address), access };
}

/** Marks a WebSocket operation's context to be counted when it executes. */
function needsCount(context: object, initial: { request?: Request; params?: unknown }) {
  if (!initial.request && initial.params) uncounted.add(context);
}

/** The RateLimit-* headers of a request counter. */
function rateLimitHeaders(
  counter: { limit: number; remaining: number; resetAt: number },
  now: number,
): Record<string, string> {
  return {
    'ratelimit-limit': String(counter.limit),
    'ratelimit-remaining': String(counter.remaining),
    'ratelimit-reset': String(Math.max(0, Math.ceil((counter.resetAt - now) / 1000))),
  };
}

/** What an admitted subscription holds: its slot, and whether it runs a trusted document. */
interface Admitted {
  lease?: SlotLease;
  trusted?: boolean;
}

/** Charges an operation before it runs; returns the refusal, if any. */
async function admitOperation(
  access: Access,
  args: ExecutionArgs,
  subscription: boolean,
): Promise<{ error: GraphQLError } | Admitted> {
  const ctx = args.contextValue as AccessContext;
  const viewer = ctx.viewer;
  const subject = ctx.subject ?? access.subjectOf(viewer, 'unknown');
  const limits = access.limitsOf(viewer);
  const keyId = viewer.kind === 'apiKey' ? viewer.id : null;
  if (uncounted.has(ctx)) {
    uncounted.delete(ctx);
    const requests = await access.counters.countRequest(subject, limits.requestsPerMinute);
    if (keyId !== null) access.usage.record(keyId, { requests: 1 });
    if (!requests.allowed) return { error: access.refusal(viewer, 'REQUESTS', requests) };
  }
  const trusted = access.documents.of(args.document);
  if (limits.persistedOnly && !trusted) return { error: new PersistedQueryOnlyError() };
  let cost = trusted?.cost ?? null;
  if (cost === null) {
    try {
      const result = operationComplexity(args);
      // Over the per-operation limits: the complexity limits refuse it before any SQL runs.
      const tooComplex =
        !result || result.depth > ctx.limits.maxDepth || result.complexity > ctx.limits.maxCost;
      cost = tooComplex ? 0 : result.complexity;
    } catch {
      // Arguments out of range: execution answers BAD_USER_INPUT before any SQL runs.
      cost = 0;
    }
  }
  if (cost > 0) {
    const charged = await access.counters.add('COST', subject, cost, limits.costPerMinute);
    if (!charged.allowed) return { error: access.refusal(viewer, 'COST', charged) };
    if (keyId !== null) access.usage.record(keyId, { cost });
  }
  if (!subscription) return {};
  const lease = await access.slots.acquire(subject, limits.maxSubscriptions);
  if (!lease) {
    return {
      error: access.refusal(viewer, 'SUBSCRIPTIONS', {
        limit: limits.maxSubscriptions,
        remaining: 0,
        resetAt: null,
      }),
    };
  }
  return { lease, trusted: trusted !== undefined };
}

/**
 * Registers a keyed subscription with the instance's key sessions, so that a change to its key
 * reaches it (see sessions.ts); returns the function that forgets it.
 */
function registerSubscription(
  access: Access,
  ctx: AccessContext & Record<string, unknown>,
  admitted: Admitted,
  stream: EndableStream<unknown>,
): (() => void) | undefined {
  const { viewer, subject } = ctx;
  const authorization = authorizationOf(ctx as Parameters<typeof authorizationOf>[0]);
  if (viewer.kind !== 'apiKey' || !admitted.lease || !subject || !authorization) return undefined;
  const request = ctx.request as Request | undefined;
  const mark = (request ? admissions.get(request)?.mark : marks.get(ctx)) ?? 0;
  return access.sessions.addSubscription(
    {
      keyId: viewer.id,
      authorization,
      subject,
      lease: admitted.lease,
      trusted: admitted.trusted ?? false,
      end: (error) => stream.end(error),
    },
    mark,
  );
}

/**
 * Authenticates an HTTP request and counts it against its caller's requests per minute, once:
 * a later call for the same request returns the first answer. Undefined when the request is
 * within the limit, else the `RATE_LIMITED` refusal. GraphQL requests are admitted as they are
 * parsed; the GraphiQL page (which never reaches the parser) calls this first and answers a
 * refusal itself.
 */
export async function admitRequest(
  access: Access,
  db: Database,
  request: Request,
  serverContext: unknown,
): Promise<RateLimitedError | undefined> {
  const { viewer, requests } = await admission(access, db, request, serverContext);
  return requests.allowed ? undefined : access.refusal(viewer, 'REQUESTS', requests);
}

async function admission(
  access: Access,
  db: Database,
  request: Request,
  serverContext: unknown,
): Promise<Admission> {
  const known = admissions.get(request);
  if (known) return known;
  const req = (serverContext as NodeServerContext | undefined)?.req;
  const mark = access.sessions.mark();
  const viewer = await authenticate(db, request.headers.get('authorization'));
  const address = clientAddress(
    req?.socket?.remoteAddress,
    request.headers.get('x-forwarded-for'),
    access.config.trustProxy,
  );
  const subject = access.subjectOf(viewer, address);
  const limits = access.limitsOf(viewer);
  const requests = await access.counters.countRequest(subject, limits.requestsPerMinute);
  const admitted = { viewer, subject, limits, requests, mark };
  admissions.set(request, admitted);
  if (viewer.kind === 'apiKey') access.usage.record(viewer.id, { requests: 1 });
  return admitted;
}

/** Partner limits on every request and operation (see the module comment). */
export function usePartnerAccess(access: Access, db: Database): Plugin<AccessContext> {
  return {
    async onRequestParse({ request, serverContext }) {
      const { viewer, requests } = await admission(access, db, request, serverContext);
      if (!requests.allowed) throw access.refusal(viewer, 'REQUESTS', requests);
    },
    onContextBuilding({ context }) {
      needsCount(context, context as { request?: Request; params?: unknown });
    },
    async onExecute({ args, setResultAndStopExecution }) {
      const admitted = await admitOperation(access, args, false);
      if ('error' in admitted) setResultAndStopExecution({ errors: [admitted.error] });
    },
    async onSubscribe({ args, setResultAndStopExecution }) {
      const admitted = await admitOperation(access, args, true);
      if ('error' in admitted) {
        setResultAndStopExecution({ errors: [admitted.error] });
        return undefined;
      }
      return {
        onSubscribeResult({ result, setResult }) {
          if (!isAsyncIterable(result)) {
            admitted.lease?.release();
            return undefined;
          }
          const stream = endable(result);
          setResult(stream as typeof result);
          const forget = registerSubscription(
            access,
            args.contextValue as unknown as AccessContext & Record<string, unknown>,
            admitted,
            stream,
          );
          return {
            onEnd: () => {
              forget?.();
              admitted.lease?.release();
            },
          };
        },
      };
    },
    onResultProcess({ request, result, setResult }) {
      // The stream as the transport reads it, with every plugin's end (slots, metrics) behind it.
      if (isAsyncIterable(result)) setResult(endOnAbort(result, request.signal));
      const admitted = admissions.get(request);
      if (admitted?.viewer.kind !== 'apiKey') return;
      const errors = (result as { errors?: readonly unknown[] }).errors;
      if (Array.isArray(errors) && errors.length > 0) {
        access.usage.record(admitted.viewer.id, { errors: 1 });
      }
    },
    onResponse({ request, response }) {
      const admitted = admissions.get(request);
      if (!admitted) return;
      for (const [name, value] of Object.entries(
        rateLimitHeaders(admitted.requests, access.clock()),
      )) {
        response.headers.set(name, value);
      }
    },
  } as Plugin<AccessContext>;
}

/** The APQ hash of a request's extensions (`persistedQuery: { version: 1, sha256Hash }`). */
function apqHash(extensions: Record<string, unknown> | undefined): string | undefined {
  const persisted = extensions?.persistedQuery as
    | { version?: unknown; sha256Hash?: unknown }
    | undefined;
  return persisted?.version === 1 && typeof persisted.sha256Hash === 'string'
    ? persisted.sha256Hash
    : undefined;
}

/**
 * Trusted documents and APQ (see the module comment). Routing of a request without query
 * text: a `documentId` is a trusted document; an APQ hash is one too when it is registered
 * for the caller, or when the caller is persisted-only (who gets no APQ); any other APQ hash
 * goes to the APQ store (`PERSISTED_QUERY_NOT_FOUND` until the client sends the query).
 */
export function useTrustedDocuments(access: Access): Plugin[] {
  const callerOf = (request: Request) => admissions.get(request);
  const keyIdOf = (request: Request) => {
    const viewer = callerOf(request)?.viewer;
    return viewer?.kind === 'apiKey' ? viewer.id : null;
  };
  const route: Plugin = {
    async onParams({ params, request, setParams }) {
      const persistedOnly = callerOf(request)?.limits.persistedOnly ?? false;
      if (params.query) {
        if (persistedOnly) throw new PersistedQueryOnlyError();
        return;
      }
      const extensions = params.extensions as Record<string, unknown> | undefined;
      const hash = apqHash(extensions);
      const documentId = (params as { documentId?: unknown }).documentId;
      if (documentId !== undefined && documentId !== null && typeof documentId !== 'string') {
        throw createGraphQLError(
          '"documentId" must be a string: the SHA-256 (64 hex characters) of a registered trusted document.',
          { extensions: { code: ErrorCode.BAD_REQUEST, http: { status: 400 } } },
        );
      }
      if (documentId || !hash) return;
      if (persistedOnly || (await access.documents.find(hash, keyIdOf(request)))) {
        const { persistedQuery: _apq, ...rest } = extensions ?? {};
        setParams({ ...params, extensions: rest, documentId: hash } as typeof params);
      }
    },
  };
  return [
    route,
    useAPQ({ store: access.apqStore }) as Plugin,
    usePersistedOperations({
      extractPersistedOperationId: (params) => {
        const id = (params as { documentId?: unknown }).documentId;
        return typeof id === 'string' ? id : null;
      },
      getPersistedOperation: async (hash, request) =>
        (await access.documents.find(hash, keyIdOf(request)))?.document ?? null,
      allowArbitraryOperations: (request) => !(callerOf(request)?.limits.persistedOnly ?? false),
      customErrors: {
        notFound: {
          message:
            'PersistedQueryNotInList: no trusted document with this id is registered for this caller.',
          extensions: { code: ErrorCode.PERSISTED_QUERY_NOT_IN_LIST, http: { status: 400 } },
        },
        persistedQueryOnly: () => new PersistedQueryOnlyError(),
        keyNotFound: {
          message: 'Must provide query string.',
          extensions: { code: ErrorCode.BAD_REQUEST, http: { status: 400 } },
        },
      },
    }) as Plugin,
  ];
}
