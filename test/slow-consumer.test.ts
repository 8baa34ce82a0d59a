/**
 * A subscriber that stops reading cannot make the gateway buffer without bound: past
 * `maxQueue` waiting events it is unregistered at once and its stream ends with a
 * `SLOW_CONSUMER` error (in process: yoga's SSE body is pulled only as the client reads it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestGateway, type TestGateway } from './helpers/gateway.js';
import { insertSignal, maxEventSeq } from './helpers/writes.js';

let gateway: TestGateway;
beforeAll(async () => {
  gateway = await createTestGateway({ maxQueue: 3 });
}, 60_000);
afterAll(async () => {
  await gateway?.close();
});

describe('a slow subscriber', () => {
  it('is closed with SLOW_CONSUMER once more events wait than its queue holds', async () => {
    const response = await gateway.app.yoga.fetch('http://chipgate.test/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: 'subscription { demandSignalRecorded { slug } }' }),
    });
    expect(response.status).toBe(200);
    expect(gateway.events.stats().subscribers).toBe(1);

    // Nobody reads the body while ten signals commit.
    for (let i = 0; i < 10; i += 1) {
      await insertSignal(gateway.database.db, `ds-slow-${i}`, null, ['nvidia']);
    }
    await gateway.events.delivered(await maxEventSeq(gateway.database.db, 'demand_signals'));
    // Unregistered already: the hub holds nothing more for it.
    expect(gateway.events.stats().subscribers).toBe(0);

    const text = await response.text();
    const results = text
      .split('\n\n')
      .filter((block) => block.startsWith('event: next'))
      .map((block) => JSON.parse(block.slice(block.indexOf('data:') + 5)));
    const last = results.at(-1);
    expect(last.errors[0].extensions.code).toBe('SLOW_CONSUMER');
    expect(last.errors[0].message).toMatch(/Resubscribe with `after:`/);
    // What it did get before the error are the first events, in order, none twice.
    const slugs = results.slice(0, -1).map((result) => result.data.demandSignalRecorded.slug);
    expect(slugs.length).toBeLessThanOrEqual(4);
    expect(slugs).toEqual(slugs.map((_slug, i) => `ds-slow-${i}`));
    const blocks = text.trim().split('\n\n');
    expect(blocks.at(-1)).toMatch(/^event: complete/);
  });
});
