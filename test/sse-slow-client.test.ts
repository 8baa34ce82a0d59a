/**
 * A subscriber that stops reading, over a real socket: its unsent bytes grow until they pass
 * `CHIPGATE_SSE_MAX_BUFFERED_BYTES`, then it is dropped with a `SLOW_CONSUMER` error whose
 * `resumeAfter` is the cursor of the last event it was sent, and `complete`. A subscriber on the
 * same gateway that reads receives every event, in order, meanwhile: nobody waits for the slow
 * one.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InProcessGateway, removeTempDirs, startInProcessGateway } from './helpers/server.js';
import { subscribeSse } from './helpers/subscribers.js';
import { setStatus } from './helpers/writes.js';

const DECISION = 'us-whitehouse-2025-12-08-h200-approval';
const UPDATES = 'subscription { policyDecisionUpdated { note eventCursor } }';
const BOUND = 65_536;

let gateway: InProcessGateway;
beforeAll(async () => {
  gateway = await startInProcessGateway({ CHIPGATE_SSE_MAX_BUFFERED_BYTES: String(BOUND) });
}, 120_000);
afterAll(async () => {
  await gateway?.stop();
  removeTempDirs();
});

/** Opens an SSE subscription with node:http and returns its response, paused (nothing read). */
function openPaused(url: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      },
      (res) => {
        res.pause();
        resolve(res);
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify({ query: UPDATES }));
  });
}

describe('a subscriber that stops reading', () => {
  it('is dropped with SLOW_CONSUMER and resumeAfter once its unsent bytes pass the bound, while a reading subscriber gets every event', async () => {
    const { running } = gateway;
    const reader = await subscribeSse(gateway.url, UPDATES);
    const slow = await openPaused(gateway.url);
    expect(slow.statusCode).toBe(200);
    const deadline = Date.now() + 5_000;
    while (running.events.stats().subscribers < 2 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(running.events.stats().subscribers).toBe(2);

    // ~5 KB events until the slow one is dropped (the socket buffers of the loopback take a few
    // hundred kilobytes first), at most 2,000.
    const padding = 'x'.repeat(4_900);
    let written = 0;
    while (running.events.stats().subscribers === 2 && written < 2_000) {
      written += 1;
      await setStatus(
        running.db.db,
        DECISION,
        written % 2 ? 'SUSPENDED' : 'APPROVED',
        `n${written} ${padding}`,
      );
      // Let the hub deliver now and then, so the loop stops soon after the drop.
      if (written % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(running.events.stats().subscribers).toBe(1);
    const dropped = await running.metrics.registry.getSingleMetricAsString(
      'chipgate_subscribers_dropped_total',
    );
    expect(dropped).toMatch(/chipgate_subscribers_dropped_total\{transport="sse"\} 1$/m);

    // The reader got every event, in order, once.
    await reader.waitForResults(written, 30_000);
    const notes = reader.results.map((result) => result.data.policyDecisionUpdated.note as string);
    expect(notes.map((note) => note.split(' ')[0])).toEqual(
      Array.from({ length: written }, (_, i) => `n${i + 1}`),
    );

    // The slow one reads now: a prefix of the events, then the error, then complete.
    slow.setEncoding('utf8');
    let text = '';
    slow.on('data', (chunk: string) => {
      text += chunk;
    });
    slow.resume();
    await new Promise((resolve) => slow.once('end', resolve));
    const blocks = text.trim().split('\n\n');
    const nexts = blocks.filter((block) => /^event: next$/m.test(block));
    const results = nexts.map((block) => JSON.parse(block.slice(block.indexOf('data:') + 5)));
    const last = results.at(-1);
    expect(last.errors[0].extensions.code).toBe('SLOW_CONSUMER');
    const received = results.slice(0, -1).map((result) => result.data.policyDecisionUpdated);
    expect(received.length).toBeGreaterThan(0);
    expect(received.length).toBeLessThan(written);
    expect(received.map((update) => update.note.split(' ')[0])).toEqual(
      received.map((_u, i) => `n${i + 1}`),
    );
    expect(last.errors[0].extensions.resumeAfter).toBe(received.at(-1)?.eventCursor);
    expect(blocks.at(-1)).toMatch(/^event: complete/);
    await reader.close();
  }, 180_000);
});
