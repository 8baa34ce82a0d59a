/**
 * How subscription events are executed, in process (an SSE body nobody reads makes a slow
 * client easy to stage):
 * - subscribers of the same operation and variables share one execution per event;
 * - a subscriber that stops reading cannot make the gateway buffer without bound: past
 *   `maxBufferedBytes` of unsent events it is unregistered at once and its stream ends with a
 *   `SLOW_CONSUMER` error carrying the cursor to resume from. */
import { sql } from 'drizzle-orm';
import { vi } from 'vitest';
import { describe, expect, test } from './helpers/fixtures.js';
import { createTestGateway, type TestGateway } from './helpers/gateway.js';
import { createKey } from './helpers/keys.js';
import { insertSignal, maxEventSeq, setStatus } from './helpers/writes.js';

// This file's gateway: an event hub queue of at most 3 events, opened in a hook (60 s) rather
// than inside the first test (30 s), which is slow enough on a loaded machine by itself.
test.override('gatewayOptions', { maxQueue: 3 });
test.beforeAll(async ({ gateway }) => {
  await gateway.events.settled();
});

/** Opens an SSE subscription in process on `on` and collects its `next` payloads as they arrive. */
async function openSseOn(
  on: TestGateway,
  query: string,
  variables: Record<string, unknown> = {},
  headers: Record<string, string> = {},
) {
  const response = await on.app.yoga.fetch('http://chipgate.test/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  const results: any[] = [];
  const reader = response.body?.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const reading = (async () => {
    for (;;) {
      const chunk = await reader?.read();
      if (!chunk || chunk.done) return;
      buffer += decoder.decode(chunk.value, { stream: true });
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (/^event: next$/m.test(block)) {
          results.push(JSON.parse(block.slice(block.indexOf('data:') + 5)));
        }
      }
    }
  })();
  return {
    results,
    async close() {
      await reader?.cancel();
      await reading.catch(() => {});
    },
  };
}

describe('shared execution', () => {
  test('runs one statement per event for many subscribers of one operation, and separate ones for other selections or variables', async ({
    gateway,
  }) => {
    const same = 'subscription { demandSignalRecorded { slug chip { slug } companies { slug } } }';
    const clients = await Promise.all(Array.from({ length: 5 }, () => openSseOn(gateway, same)));
    const other = await openSseOn(gateway, 'subscription { demandSignalRecorded { slug kind } }');
    const filtered = await openSseOn(
      gateway,
      'subscription S($c: String) { demandSignalRecorded(filter: { company: $c }) { slug } }',
      { c: 'nvidia' },
    );
    expect(gateway.events.stats().subscribers).toBe(7);

    await insertSignal(gateway.database.db, 'ds-shared-1', 'h20', ['nvidia', 'alibaba']);
    gateway.statements.reset();
    await gateway.events.delivered(await maxEventSeq(gateway.database.db, 'demand_signals'));
    await vi.waitFor(() => {
      for (const client of [...clients, other, filtered]) expect(client.results).toHaveLength(1);
    });
    for (const client of clients) {
      expect(client.results[0].data.demandSignalRecorded).toEqual({
        slug: 'ds-shared-1',
        chip: { slug: 'h20' },
        companies: [{ slug: 'nvidia' }, { slug: 'alibaba' }],
      });
    }
    expect(other.results[0].data.demandSignalRecorded).toEqual({
      slug: 'ds-shared-1',
      kind: 'ORDER',
    });
    expect(filtered.results[0].data.demandSignalRecorded).toEqual({ slug: 'ds-shared-1' });
    // Row loads of the subscribers' selections: one per distinct operation and variables.
    const rowLoads = gateway.statements.statements.filter((statement) =>
      /from "demand_signals" "t1" where "t1"."id" = \$1/.test(statement),
    );
    expect(rowLoads).toHaveLength(3);
    await Promise.all([...clients, other, filtered].map((client) => client.close()));
    await vi.waitFor(() => expect(gateway.events.stats().subscribers).toBe(0));
  });
});

describe('cohorts', () => {
  test('keys with the same scopes share one execution per event (not one per key); other scopes and anonymous callers form their own cohorts', async ({
    gateway,
  }) => {
    const db = gateway.database.db;
    const readers = await Promise.all([createKey(db, ['read']), createKey(db, ['read'])]);
    const writer = await createKey(db, ['read', 'write']);
    const query = 'subscription { demandSignalRecorded { slug companies { slug } } }';
    const clients = [
      ...(await Promise.all(readers.map((key) => openSseOn(gateway, query, {}, key.headers)))),
      await openSseOn(gateway, query, {}, writer.headers),
      await openSseOn(gateway, query),
    ];
    await vi.waitFor(() => expect(gateway.events.stats().subscribers).toBe(4));
    await insertSignal(db, 'ds-cohort-1', 'h20', ['nvidia']);
    gateway.statements.reset();
    await gateway.events.delivered(await maxEventSeq(db, 'demand_signals'));
    await vi.waitFor(() => {
      for (const client of clients) expect(client.results).toHaveLength(1);
    });
    for (const client of clients) {
      expect(client.results[0].data.demandSignalRecorded).toEqual({
        slug: 'ds-cohort-1',
        companies: [{ slug: 'nvidia' }],
      });
    }
    const rowLoads = gateway.statements.statements.filter((statement) =>
      /from "demand_signals" "t1" where "t1"."id" = \$1/.test(statement),
    );
    // The two read keys, the read+write key, the anonymous caller: three cohorts.
    expect(rowLoads).toHaveLength(3);
    await Promise.all(clients.map((client) => client.close()));
    await vi.waitFor(() => expect(gateway.events.stats().subscribers).toBe(0));
  });
});

describe('each event reads the store afresh', () => {
  test.for(['on', 'off'] as const)(
    'a value changed between two events is seen by the second (planner %s)',
    { timeout: 60_000 },
    async (planner, { gateway }) => {
      const own: TestGateway = planner === 'on' ? gateway : await createTestGateway({ planner });
      const openOn = (query: string) =>
        own === gateway ? openSseOn(gateway, query) : openSseOn(own, query);
      try {
        const client = await openOn(
          'subscription { policyDecisionUpdated { toStatus decision { slug title status } } }',
        );
        const db = own.database.db;
        await vi.waitFor(() => expect(own.events.stats().subscribers).toBeGreaterThan(0));
        const slug = 'us-commerce-2025-07-14-h20-licenses-resume';
        await setStatus(db, slug, 'SUSPENDED', `first (${planner})`);
        await vi.waitFor(() => expect(client.results).toHaveLength(1));
        const retitled = `Retitled (${planner})`;
        await db.execute(sql`update policy_decisions set title = ${retitled} where slug = ${slug}`);
        await setStatus(db, slug, 'IN_EFFECT', `second (${planner})`);
        await vi.waitFor(() => expect(client.results).toHaveLength(2));
        expect(client.results[1].data.policyDecisionUpdated).toEqual({
          toStatus: 'IN_EFFECT',
          decision: { slug, title: retitled, status: 'IN_EFFECT' },
        });
        await client.close();
      } finally {
        if (own !== gateway) await own.close();
      }
    },
  );
});

describe('a slow subscriber', () => {
  test('that reads nothing is dropped with SLOW_CONSUMER and a resumeAfter cursor once its unsent bytes pass the bound', async () => {
    const own = await createTestGateway({ live: { maxBufferedBytes: 600 } });
    try {
      const response = await own.app.yoga.fetch('http://chipgate.test/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
        body: JSON.stringify({
          query: 'subscription { demandSignalRecorded { slug eventCursor } }',
        }),
      });
      expect(response.status).toBe(200);
      expect(own.events.stats().subscribers).toBe(1);

      // Nobody reads the body while twenty signals commit.
      for (let i = 0; i < 20; i += 1) {
        await insertSignal(own.database.db, `ds-slow-${i}`, null, ['nvidia']);
      }
      await own.events.delivered(await maxEventSeq(own.database.db, 'demand_signals'));
      // Unregistered already: the hub holds nothing more for it.
      await vi.waitFor(() => expect(own.events.stats().subscribers).toBe(0));

      const text = await response.text();
      const blocks = text.trim().split('\n\n');
      const nexts = blocks.filter((block) => /^event: next$/m.test(block));
      const results = nexts.map((block) => JSON.parse(block.slice(block.indexOf('data:') + 5)));
      const last = results.at(-1);
      expect(last.errors[0].extensions.code).toBe('SLOW_CONSUMER');
      expect(last.errors[0].message).toMatch(/Resubscribe with `after: extensions.resumeAfter`/);
      // What it did get before the error are the first events, in order, none twice, each with
      // its cursor as the SSE id; resumeAfter is the last one's.
      const got = results.slice(0, -1).map((result) => result.data.demandSignalRecorded);
      expect(got.length).toBeGreaterThan(0);
      expect(got.length).toBeLessThan(20);
      expect(got.map((signal) => signal.slug)).toEqual(got.map((_s, i) => `ds-slow-${i}`));
      expect(nexts.slice(0, -1).map((block) => /^id: (.*)$/m.exec(block)?.[1])).toEqual(
        got.map((signal) => signal.eventCursor),
      );
      expect(last.errors[0].extensions.resumeAfter).toBe(got.at(-1)?.eventCursor);
      expect(blocks.at(-1)).toMatch(/^event: complete/);
    } finally {
      await own.close();
    }
  });
});
