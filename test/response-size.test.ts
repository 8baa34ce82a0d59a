/**
 * The response-size cap (`CHIPGATE_MAX_RESPONSE_BYTES`), over a real socket: an answer over
 * it is refused whole (HTTP 422, `RESPONSE_TOO_LARGE`, no data, never a cut-off body); a
 * stream's events are judged one by one (SSE and WebSocket), and the stream goes on.
 */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { queryRows } from '../src/db/client.js';
import { type InProcessGateway, startInProcessGateway } from './helpers/server.js';
import { subscribeSse, subscribeWs, wsClient } from './helpers/subscribers.js';
import { setStatus } from './helpers/writes.js';

/** The cap of this file's gateway, in bytes. */
const CAP = 3_000;

/** About 25 decisions with titles and summaries: several kB, over `CAP`. */
const LARGE = '{ policyDecisions(first: 25) { edges { node { slug title summary } } } }';
/** A few hundred bytes. */
const SMALL = '{ chip(slug: "h200") { slug name } }';

/** A decision whose summary this file makes 2,000 two-byte characters long: 4,000 bytes. */
const BIG = 'us-whitehouse-2026-01-14-proclamation-11002';

let gateway: InProcessGateway;

beforeAll(async () => {
  gateway = await startInProcessGateway({ CHIPGATE_MAX_RESPONSE_BYTES: String(CAP) });
  await queryRows(
    gateway.running.db.db,
    sql`update policy_decisions set summary = repeat('é', 2000) where slug = ${BIG}`,
  );
});
afterAll(async () => {
  await gateway?.stop();
});

async function post(query: string, accept: string) {
  const response = await fetch(gateway.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept },
    body: JSON.stringify({ query }),
  });
  const text = await response.text();
  return { response, text, body: JSON.parse(text) as Record<string, any> };
}

describe('an answer over the cap over HTTP', () => {
  it.each(['application/graphql-response+json', 'application/json'])(
    'is refused whole with 422 and RESPONSE_TOO_LARGE (accept %s)',
    async (accept) => {
      const { response, text, body } = await post(LARGE, accept);
      expect(response.status).toBe(422);
      expect(response.headers.get('content-type')).toMatch(/json/);
      expect(Number(response.headers.get('content-length') ?? text.length)).toBe(
        Buffer.byteLength(text),
      );
      expect(body.data).toBeUndefined();
      expect(body.errors).toHaveLength(1);
      expect(body.errors[0].extensions).toEqual({ code: 'RESPONSE_TOO_LARGE' });
      const [, bytes] = /would be (\d+) bytes, over this gateway's limit of 3000 bytes/.exec(
        body.errors[0].message,
      ) ?? [undefined, '0'];
      expect(Number(bytes)).toBeGreaterThan(CAP);
    },
  );

  it('counts bytes, not characters', async () => {
    // About 2,050 characters of JSON, 4,050 bytes of UTF-8.
    const { response, body } = await post(
      `{ policyDecision(slug: "${BIG}") { summary } }`,
      'application/json',
    );
    expect(response.status).toBe(422);
    expect(body.errors[0].message).toMatch(/would be 40\d\d bytes/);
  });

  it('a GET of the same query is refused the same way; a small one still answers', async () => {
    const url = new URL(gateway.url);
    url.searchParams.set('query', LARGE);
    const refused = await fetch(url, { headers: { accept: 'application/json' } });
    expect(refused.status).toBe(422);
    expect((await refused.json()).errors[0].extensions.code).toBe('RESPONSE_TOO_LARGE');
    const small = await post(SMALL, 'application/json');
    expect(small.response.status).toBe(200);
    expect(small.body).toEqual({ data: { chip: { slug: 'h200', name: 'NVIDIA H200 (SXM)' } } });
  });

  it('a query read as an SSE stream gets the refusal as its event', async () => {
    const stream = await subscribeSse(gateway.url, LARGE);
    await stream.waitForComplete();
    expect(stream.results).toEqual([
      {
        errors: [
          {
            message: expect.stringMatching(/over this gateway's limit of 3000 bytes/),
            extensions: { code: 'RESPONSE_TOO_LARGE' },
          },
        ],
      },
    ]);
  });
});

describe('events of a subscription', () => {
  const UPDATES = /* GraphQL */ `subscription { policyDecisionUpdated { toStatus decision { slug summary } } }`;
  const SHORT = 'us-commerce-2025-07-14-h20-licenses-resume';

  it.each(['sse', 'ws'] as const)(
    'are judged one by one over %s; the stream goes on',
    async (transport) => {
      const events = gateway.running.events;
      const ws = transport === 'ws' ? wsClient(gateway.url) : undefined;
      const subscription = ws ? subscribeWs(ws, UPDATES) : await subscribeSse(gateway.url, UPDATES);
      await vi.waitFor(() => expect(events.stats().subscribers).toBe(1));
      await setStatus(gateway.running.db.db, BIG, 'SUSPENDED', `${transport} big`);
      await setStatus(gateway.running.db.db, SHORT, 'SUSPENDED', `${transport} short`);
      const results = await subscription.waitForResults(2);
      expect(results[0]).toEqual({
        errors: [
          {
            message: expect.stringMatching(/would be \d+ bytes, over this gateway's limit of 3000/),
            extensions: { code: 'RESPONSE_TOO_LARGE' },
          },
        ],
      });
      expect(results[1]).toEqual({
        data: {
          policyDecisionUpdated: {
            toStatus: 'SUSPENDED',
            decision: { slug: SHORT, summary: expect.any(String) },
          },
        },
      });
      await subscription.close();
      await ws?.dispose();
      // Back to where the other transport's run starts.
      await setStatus(gateway.running.db.db, BIG, 'IN_EFFECT', `${transport} back`);
      await setStatus(gateway.running.db.db, SHORT, 'IN_EFFECT', `${transport} back`);
      await vi.waitFor(() => expect(events.stats().subscribers).toBe(0));
    },
  );

  it('a query over WebSocket over the cap gets the refusal, a small one its data', async () => {
    const ws = wsClient(gateway.url);
    const large = subscribeWs(ws, LARGE);
    const small = subscribeWs(ws, SMALL);
    await large.waitForComplete();
    await small.waitForComplete();
    expect(large.results).toEqual([
      {
        errors: [
          {
            message: expect.stringMatching(/over this gateway's limit of 3000 bytes/),
            extensions: { code: 'RESPONSE_TOO_LARGE' },
          },
        ],
      },
    ]);
    expect(small.results).toEqual([
      { data: { chip: { slug: 'h200', name: 'NVIDIA H200 (SXM)' } } },
    ]);
    await ws.dispose();
  });
});
