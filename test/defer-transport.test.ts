/**
 * `@defer`/`@stream` over a real socket (127.0.0.1): the incremental payloads go out as
 * `multipart/mixed` and, for `Accept: text/event-stream`, as SSE `next` events ended by
 * `complete` (the same SSE transport that serves subscriptions, src/live/sse.ts), and over
 * graphql-transport-ws as `next` messages.
 */
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { fetchPayloads, mergePayloads, sortedKeys } from './helpers/incremental.js';
import { type InProcessGateway, removeTempDirs, startInProcessGateway } from './helpers/server.js';

let gateway: InProcessGateway;

beforeAll(async () => {
  gateway = await startInProcessGateway();
}, 60_000);

afterAll(async () => {
  await gateway?.stop();
  removeTempDirs();
});

const DEFERRED = '{ chips(first: 2) { edges { node { slug ... @defer { name } } } } }';
const PLAIN = '{ chips(first: 2) { edges { node { slug name } } } }';

async function plainResult() {
  const response = await fetch(gateway.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ query: PLAIN }),
  });
  return (await response.json()) as { data: unknown };
}

describe.each(['multipart/mixed', 'text/event-stream'] as const)('over %s', (accept) => {
  it('sends the initial payload without the deferred fields, then the fields', async () => {
    const { status, contentType, payloads } = await fetchPayloads(gateway.url, DEFERRED, {
      accept,
    });
    expect(status).toBe(200);
    expect(contentType.startsWith(accept)).toBe(true);
    expect(payloads.length).toBeGreaterThanOrEqual(2);
    const [first] = payloads;
    expect(first?.hasNext).toBe(true);
    expect(first?.data).toEqual({
      chips: { edges: [{ node: { slug: 'mi300x' } }, { node: { slug: 'mi308' } }] },
    });
    expect(payloads.at(-1)?.hasNext).toBe(false);
    const paths = payloads.flatMap((p) => p.incremental ?? []).map((part) => part.path);
    expect(paths).toEqual([
      ['chips', 'edges', 0, 'node'],
      ['chips', 'edges', 1, 'node'],
    ]);
    expect(sortedKeys(mergePayloads(payloads))).toEqual(sortedKeys(await plainResult()));
  });

  it('streams a plain list: initialCount items first, the rest after', async () => {
    const query =
      '{ chip(slug: "h200") { slug demandSignals(first: 5) { edges @stream(initialCount: 1) { node { slug } } } } }';
    const { payloads } = await fetchPayloads(gateway.url, query, { accept });
    const first = payloads[0] as { data: { chip: { demandSignals: { edges: unknown[] } } } };
    expect(first.data.chip.demandSignals.edges).toHaveLength(1);
    const response = await fetch(gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ query: query.replace(' @stream(initialCount: 1)', '') }),
    });
    const plain = (await response.json()) as {
      data: { chip: { demandSignals: { edges: unknown[] } } };
    };
    expect(plain.data.chip.demandSignals.edges.length).toBeGreaterThan(1);
    expect(mergePayloads(payloads).data).toEqual(plain.data);
  });
});

it('refuses @defer over plain JSON with a 406 that names the media types to ask for', async () => {
  const response = await fetch(gateway.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ query: DEFERRED }),
  });
  expect(response.status).toBe(406);
  const body = (await response.json()) as { errors: { message: string }[] };
  expect(body.errors[0]?.message).toContain('multipart/mixed');
});

it('over graphql-transport-ws: each payload is a next message', async () => {
  const client = createClient({
    url: gateway.url.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    retryAttempts: 0,
  });
  try {
    const payloads: unknown[] = [];
    for await (const payload of client.iterate({ query: DEFERRED })) payloads.push(payload);
    expect(payloads.length).toBeGreaterThanOrEqual(2);
    expect(payloads[0]).toMatchObject({ hasNext: true });
    expect(payloads.at(-1)).toMatchObject({ hasNext: false });
    expect(sortedKeys(mergePayloads(payloads as never))).toEqual(sortedKeys(await plainResult()));
  } finally {
    await client.dispose();
  }
});
