/**
 * OpenTelemetry traces through the API only (the SDK is started by `tracing-sdk.ts` when
 * `OTEL_EXPORTER_OTLP_ENDPOINT` is set); the W3C `traceparent` of incoming requests honoured.
 * One span per HTTP request (`useRequestTracing`) with the GraphQL phases as children; the
 * statement seam (src/db/statements.ts) adds a span per SQL statement and each source a span per
 * upstream call, all through `trace.getTracer('chipgate')`.
 */
import {
  context,
  propagation,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import type { Plugin } from 'graphql-yoga';

const headerGetter = {
  keys: (carrier: Headers) => [...carrier.keys()],
  get: (carrier: Headers, key: string) => carrier.get(key) ?? undefined,
};

/** Runs `work` in a child span named `name` and ends it when the work settles. */
function phase<T>(name: string, work: () => T): T {
  const span = trace.getTracer('chipgate').startSpan(name);
  return context.with(trace.setSpan(context.active(), span), () => {
    let result: T;
    try {
      result = work();
    } catch (error) {
      fail(span, error);
      span.end();
      throw error;
    }
    if (result instanceof Promise) {
      return result.then(
        (value) => {
          span.end();
          return value;
        },
        (error: unknown) => {
          fail(span, error);
          span.end();
          throw error;
        },
      ) as T;
    }
    span.end();
    return result;
  });
}

function fail(span: Span, error: unknown): void {
  span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error)?.message ?? 'error' });
}

/**
 * A span per HTTP request (`POST /graphql`), child of the caller's `traceparent` when it sent
 * one, with `graphql.parse`, `graphql.validate`, `graphql.context` and `graphql.execute` (or
 * `graphql.subscribe`) spans under it. Costs nothing measurable without a registered provider.
 */
export function useRequestTracing(): Plugin {
  const spans = new WeakMap<Request, Span>();
  return {
    instrumentation: {
      request({ request }, wrapped) {
        const parent = propagation.extract(context.active(), request.headers, headerGetter);
        const url = new URL(request.url, 'http://localhost');
        const span = trace.getTracer('chipgate').startSpan(
          `${request.method} ${url.pathname}`,
          {
            kind: SpanKind.SERVER,
            attributes: { 'http.request.method': request.method, 'url.path': url.pathname },
          },
          parent,
        );
        spans.set(request, span);
        return context.with(trace.setSpan(parent, span), () => {
          const done = () => span.end();
          try {
            const result = wrapped();
            if (result instanceof Promise) return result.finally(done);
            done();
            return result;
          } catch (error) {
            fail(span, error);
            done();
            throw error;
          }
        });
      },
      parse: (_payload, wrapped) => phase('graphql.parse', wrapped),
      validate: (_payload, wrapped) => phase('graphql.validate', wrapped),
      context: (_payload, wrapped) => phase('graphql.context', wrapped),
      execute: (_payload, wrapped) => phase('graphql.execute', wrapped),
      subscribe: (_payload, wrapped) => phase('graphql.subscribe', wrapped),
    },
    onExecute({ args }) {
      const request = (args.contextValue as { request?: Request }).request;
      const span = request ? spans.get(request) : undefined;
      if (args.operationName) span?.setAttribute('graphql.operation.name', args.operationName);
    },
    onResponse({ request, response }) {
      const span = spans.get(request);
      span?.setAttribute('http.response.status_code', response.status);
      if (response.status >= 500) span?.setStatus({ code: SpanStatusCode.ERROR });
    },
  } as Plugin;
}
