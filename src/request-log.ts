/**
 * One log line per request (pino, `info`): request id, operation name, API key id, duration,
 * HTTP status and error codes. Never a key, a variable value or a document. The request id is
 * the client's `X-Request-Id` when it is a plain token (letters, digits, `-_.:`, at most 128),
 * a new UUID otherwise, and is returned in the response's `X-Request-Id`.
 */
import { randomUUID } from 'node:crypto';
import { getOperationAST } from 'graphql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import type { Context } from './context.js';
import type { LogCalls } from './log-calls.js';
import type { RequestOutcome } from './metrics.js';

/** The logger call the plugin makes (pino satisfies it). */
export type RequestLogger = Pick<LogCalls, 'info'>;

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/** What is known about one request as it goes. */
interface RequestState {
  id: string;
  started: number;
  operation: string;
  keyId: number | null;
  errorCodes: string[];
  data: boolean;
}

/** The request id of a request: its valid `X-Request-Id`, else a new UUID. */
export function requestIdOf(request: Request): string {
  const given = request.headers.get('x-request-id');
  return given && REQUEST_ID.test(given) ? given : randomUUID();
}

/** `ok`, `partial`, `error` or `refused`, from the status and what the response held. */
function outcomeOf(status: number, state: RequestState): string {
  if (status >= 400) return 'refused';
  if (state.errorCodes.length === 0) return 'ok';
  return state.data ? 'partial' : 'error';
}

/**
 * The request-log plugin; `onFinished` also hears of every request (the metrics). Requests for
 * `/health`, `/ready` and `/metrics` are not logged (probes and scrapes would drown the log).
 */
export function useRequestLog(
  logger: RequestLogger,
  onFinished?: (outcome: RequestOutcome) => void,
): Plugin<Context> {
  const states = new WeakMap<Request, RequestState>();
  return {
    onRequest({ request, url }) {
      if (url.pathname !== '/graphql') return;
      states.set(request, {
        id: requestIdOf(request),
        started: performance.now(),
        operation: '-',
        keyId: null,
        errorCodes: [],
        data: false,
      });
    },
    onParams({ request, params }) {
      const state = states.get(request);
      if (state && params.operationName) state.operation = params.operationName;
    },
    onParse({ context }) {
      const request = (context as { request?: Request }).request;
      const state = request ? states.get(request) : undefined;
      if (!state) return;
      return ({ result }) => {
        if (!result || result instanceof Error || !('kind' in result)) return;
        const operation = getOperationAST(
          result,
          (context as { params?: { operationName?: string } }).params?.operationName,
        );
        if (operation) state.operation = operation.name?.value ?? 'anonymous';
      };
    },
    onExecute({ args }) {
      const context = args.contextValue as Partial<Context> & { request?: Request };
      const state = context.request ? states.get(context.request) : undefined;
      if (!state) return;
      const operation = getOperationAST(args.document, args.operationName);
      state.operation = operation?.name?.value ?? (operation ? 'anonymous' : state.operation);
      if (context.viewer?.kind === 'apiKey') state.keyId = context.viewer.id;
    },
    onSubscribe({ args }) {
      const context = args.contextValue as Partial<Context> & { request?: Request };
      const state = context.request ? states.get(context.request) : undefined;
      if (!state) return;
      const operation = getOperationAST(args.document, args.operationName);
      state.operation = operation?.name?.value ?? 'anonymous';
      if (context.viewer?.kind === 'apiKey') state.keyId = context.viewer.id;
    },
    onResultProcess({ request, result }) {
      const state = states.get(request);
      if (!state || isAsyncIterable(result)) return;
      for (const each of Array.isArray(result) ? result : [result]) {
        const { errors, data } = each as {
          errors?: { extensions?: { code?: unknown } }[];
          data?: unknown;
        };
        if (data) state.data = true;
        for (const error of errors ?? []) {
          state.errorCodes.push(String(error.extensions?.code ?? 'INTERNAL_SERVER_ERROR'));
        }
      }
    },
    onResponse({ request, response }) {
      const state = states.get(request);
      if (!state) return;
      states.delete(request);
      response.headers.set('x-request-id', state.id);
      const seconds = (performance.now() - state.started) / 1000;
      const outcome = outcomeOf(response.status, state);
      logger.info(
        {
          reqId: state.id,
          operation: state.operation,
          keyId: state.keyId,
          status: response.status,
          durationMs: Math.round(seconds * 10_000) / 10,
          ...(state.errorCodes.length > 0 ? { errors: [...new Set(state.errorCodes)] } : {}),
        },
        'request',
      );
      onFinished?.({ operation: state.operation, outcome, seconds, errorCodes: state.errorCodes });
    },
  };
}
