/**
 * The OpenTelemetry SDK, loaded only when `OTEL_EXPORTER_OTLP_ENDPOINT` is set (server.ts
 * imports it dynamically, so a gateway without tracing does not load it): the tracer provider
 * with the OTLP/HTTP exporter and the W3C trace-context propagator, registered process-wide.
 */
import { propagation, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';

/** A started tracing pipeline. */
export interface Tracing {
  /** Exports what is buffered and stops (call on shutdown). */
  shutdown(): Promise<void>;
}

/**
 * Starts exporting traces to `<endpoint>/v1/traces` (OTLP/HTTP, JSON) as `serviceName`, and
 * registers the provider, context manager and W3C propagator process-wide.
 */
export function startTracing(options: { endpoint: string; serviceName: string }): Tracing {
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': options.serviceName }),
    spanProcessors: [
      new BatchSpanProcessor(
        new OTLPTraceExporter({ url: `${options.endpoint.replace(/\/+$/, '')}/v1/traces` }),
        { scheduledDelayMillis: 1_000 },
      ),
    ],
  });
  provider.register({ propagator: new W3CTraceContextPropagator() });
  return {
    async shutdown() {
      await provider.shutdown();
      trace.disable();
      propagation.disable();
    },
  };
}
