/**
 * OpenTelemetry: with OTEL_EXPORTER_OTLP_ENDPOINT set, one request yields one trace, child of
 * the caller's W3C traceparent: the request span, the GraphQL phases under it, and a span per
 * SQL statement (its text, no values), exported over OTLP/HTTP to a receiver the test runs.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InProcessGateway, removeTempDirs, startInProcessGateway } from './helpers/server.js';

interface ExportedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes: { key: string; value: { stringValue?: string; intValue?: number | string } }[];
}

const received: ExportedSpan[] = [];
const listeners = new Set<() => void>();
const receiver = createServer((req: IncomingMessage, res) => {
  let body = '';
  req.on('data', (chunk: Buffer) => {
    body += chunk.toString();
  });
  req.on('end', () => {
    const payload = JSON.parse(body) as {
      resourceSpans: { scopeSpans: { spans: ExportedSpan[] }[] }[];
    };
    for (const resource of payload.resourceSpans) {
      for (const scope of resource.scopeSpans) received.push(...scope.spans);
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    for (const listener of listeners) listener();
  });
});

let gateway: InProcessGateway;
beforeAll(async () => {
  receiver.listen(0, '127.0.0.1');
  await once(receiver, 'listening');
  const { port } = receiver.address() as AddressInfo;
  gateway = await startInProcessGateway({
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
    CHIPGATE_RESPONSE_CACHE_TTL_S: '0',
  });
});
afterAll(async () => {
  await gateway?.stop();
  receiver.close();
  removeTempDirs();
});

const attribute = (span: ExportedSpan, key: string) => {
  const value = span.attributes.find((a) => a.key === key)?.value;
  return value?.stringValue ?? value?.intValue;
};

describe('tracing', () => {
  it('one request, one trace under the caller traceparent: request, phases, SQL statements', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const callerSpan = '00f067aa0ba902b7';
    const response = await fetch(gateway.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        traceparent: `00-${traceId}-${callerSpan}-01`,
      },
      body: JSON.stringify({
        query: 'query Traced { company(slug: "nvidia") { name } }',
      }),
    });
    expect(response.status).toBe(200);
    await response.json();
    // Spans are exported in batches; wait for the statement span of this trace.
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`spans so far: ${JSON.stringify(received.map((s) => s.name))}`)),
        20_000,
      );
      const check = () => {
        const names = received.filter((s) => s.traceId === traceId).map((s) => s.name);
        if (
          names.includes('POST /graphql') &&
          names.includes('select') &&
          names.includes('graphql.execute')
        ) {
          clearTimeout(timer);
          listeners.delete(check);
          resolve();
        }
      };
      listeners.add(check);
      check();
    });
    const spans = received.filter((s) => s.traceId === traceId);
    expect(
      new Set(received.filter((s) => s.name === 'POST /graphql').map((s) => s.traceId)),
    ).toEqual(new Set([traceId]));
    const root = spans.find((s) => s.name === 'POST /graphql') as ExportedSpan;
    expect(root.parentSpanId).toBe(callerSpan);
    expect(attribute(root, 'http.response.status_code')).toBe(200);
    const byName = (name: string) => spans.filter((s) => s.name === name);
    for (const name of [
      'graphql.parse',
      'graphql.validate',
      'graphql.context',
      'graphql.execute',
    ]) {
      expect(
        byName(name).map((s) => s.parentSpanId),
        name,
      ).toEqual([root.spanId]);
    }
    const execute = byName('graphql.execute')[0] as ExportedSpan;
    const statements = byName('select');
    expect(statements.length).toBeGreaterThan(0);
    for (const statement of statements) {
      expect([
        execute.spanId,
        root.spanId,
        ...byName('graphql.context').map((s) => s.spanId),
      ]).toContain(statement.parentSpanId);
      const text = String(attribute(statement, 'db.query.text'));
      expect(text).toMatch(/^select /);
      expect(text).not.toContain('nvidia');
    }
    expect(
      statements.some(
        (s) =>
          s.parentSpanId === execute.spanId &&
          /"companies"/.test(String(attribute(s, 'db.query.text'))),
      ),
    ).toBe(true);
  });
});
