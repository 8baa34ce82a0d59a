/**
 * The standard SSE resume, over a real socket: every event carries `id: <eventCursor>`, and a
 * request with `Last-Event-ID` resumes after it exactly as `after:` does (nothing lost, nothing
 * repeated; it wins over `after:`, which the browser repeats from the URL it first opened). Then
 * a real `EventSource` in Debian's Chromium: the instance restarts (the server closes the
 * stream), two events commit while it is down, and the browser reconnects by itself and shows
 * both, once each.
 */
import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { encodeEventCursor } from '../src/codecs.js';
import { loadEnv } from '../src/env.js';
import { type RunningGateway, startGateway } from '../src/server.js';
import { createTestGateway, LIFTED_LIMITS } from './helpers/gateway.js';
import {
  freePort,
  type GatewayDatabase,
  gatewayDatabase,
  removeTempDirs,
  withGatewayDatabase,
} from './helpers/server.js';
import { insertSignal } from './helpers/writes.js';

const CHROMIUM = '/usr/bin/chromium';
const runsBrowser = existsSync(CHROMIUM) || Boolean(process.env.CI);

const SIGNALS = 'subscription { demandSignalRecorded { slug eventCursor } }';

/** One SSE frame as sent: its fields (`id`, `event`, `data`). */
interface Frame {
  id?: string;
  event?: string;
  data?: string;
}

/** An SSE request over a real socket that collects the frames it receives. */
async function openStream(url: string, body: object, headers: Record<string, string> = {}) {
  const abort = new AbortController();
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...headers },
    body: JSON.stringify(body),
    signal: abort.signal,
  });
  const frames: Frame[] = [];
  let ended = false;
  const reading = (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const frame: Frame = {};
        for (const line of buffer.slice(0, end).split('\n')) {
          const match = /^(id|event|data): ?(.*)$/.exec(line);
          if (match) frame[match[1] as keyof Frame] = match[2];
        }
        buffer = buffer.slice(end + 2);
        if (frame.event) frames.push(frame);
      }
    }
  })()
    .catch(() => {})
    .finally(() => {
      ended = true;
    });
  const nexts = () => frames.filter((frame) => frame.event === 'next');
  return {
    status: response.status,
    frames,
    /** The `next` frames' data, parsed. */
    results: () => nexts().map((frame) => JSON.parse(frame.data ?? 'null')),
    nexts,
    async waitForNexts(count: number) {
      const deadline = Date.now() + 20_000;
      while (nexts().length < count) {
        if (ended || Date.now() > deadline) {
          throw new Error(`expected ${count} events, got ${JSON.stringify(frames)}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return nexts();
    },
    async waitForEnd() {
      await reading;
    },
    async close() {
      abort.abort();
      await reading;
    },
  };
}

/** Starts a gateway on `port` (fixed, so a restarted one answers at the same URL). */
async function startOn(port: number, database: GatewayDatabase): Promise<RunningGateway> {
  const env = {
    ...loadEnv({ CHIPGATE_LOG_LEVEL: 'silent', ...LIFTED_LIMITS, ...database.env }),
    CHIPGATE_HOST: '127.0.0.1',
    CHIPGATE_PORT: port,
  };
  return startGateway(env);
}

let database: GatewayDatabase;
let port: number;
let gateway: RunningGateway | undefined;
beforeAll(async () => {
  database = await gatewayDatabase();
  port = await freePort();
  gateway = await startOn(port, database);
}, 120_000);
afterAll(async () => {
  await gateway?.stop();
  await database?.cleanup();
  removeTempDirs();
});

/** Commits a signal through the running gateway's own database handle. */
async function commitSignal(slug: string) {
  if (!gateway) throw new Error('no gateway running');
  await insertSignal(gateway.db.db, slug, 'h200', ['nvidia']);
}

describe('SSE ids and Last-Event-ID', () => {
  it('every event carries its eventCursor as id; Last-Event-ID resumes after it, nothing lost or repeated, and wins over after:', async () => {
    const url = gateway?.url ?? '';
    const first = await openStream(url, { query: SIGNALS });
    expect(first.status).toBe(200);
    for (const slug of ['ds-id-1', 'ds-id-2', 'ds-id-3']) await commitSignal(slug);
    const frames = await first.waitForNexts(3);
    const results = first.results();
    expect(results.map((result) => result.data.demandSignalRecorded.slug)).toEqual([
      'ds-id-1',
      'ds-id-2',
      'ds-id-3',
    ]);
    expect(frames.map((frame) => frame.id)).toEqual(
      results.map((result) => result.data.demandSignalRecorded.eventCursor),
    );
    await first.close();

    // Resume after the first event: the second and third come again, then live ones.
    const firstId = frames[0]?.id ?? '';
    const resumed = await openStream(url, { query: SIGNALS }, { 'last-event-id': firstId });
    await resumed.waitForNexts(2);
    await commitSignal('ds-id-4');
    await resumed.waitForNexts(3);
    expect(resumed.results().map((result) => result.data.demandSignalRecorded.slug)).toEqual([
      'ds-id-2',
      'ds-id-3',
      'ds-id-4',
    ]);
    await resumed.close();

    // The browser repeats the URL it first opened (with its old `after:`) and sends the newer
    // Last-Event-ID: the header wins, so nothing is replayed twice.
    const withBoth = await openStream(
      url,
      {
        query: 'subscription ($after: String) { demandSignalRecorded(after: $after) { slug } }',
        variables: { after: firstId },
      },
      { 'last-event-id': frames[2]?.id ?? '' },
    );
    await withBoth.waitForNexts(1);
    // Only ds-id-4 (after the third), not ds-id-2 and ds-id-3 again.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(withBoth.results().map((result) => result.data.demandSignalRecorded.slug)).toEqual([
      'ds-id-4',
    ]);
    await withBoth.close();
  });

  it('a Last-Event-ID that is not an event cursor is BAD_USER_INPUT, and no subscription is held', async () => {
    const url = gateway?.url ?? '';
    // The previous test's streams are gone once the server saw them close.
    await vi.waitFor(() => expect(gateway?.events.stats().subscribers).toBe(0));
    const bad = await openStream(url, { query: SIGNALS }, { 'last-event-id': 'not-a-cursor' });
    await bad.waitForEnd();
    const [result] = bad.results();
    expect(result.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(result.errors[0].message).toMatch(/^`Last-Event-ID` is not an event cursor/);
    expect(bad.frames.at(-1)?.event).toBe('complete');
    expect(gateway?.events.stats().subscribers).toBe(0);
  });
});

describe('Last-Event-ID is priced as after:', () => {
  it('a subscription affordable live is refused when it resumes from Last-Event-ID past the per-operation cost limit', async () => {
    const own = await createTestGateway({ limits: { maxCost: 100 } });
    try {
      const post = (headers: Record<string, string>) =>
        own.app.yoga.fetch('http://chipgate.test/graphql', {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...headers },
          body: JSON.stringify({ query: SIGNALS }),
        });
      const live = await post({});
      expect(live.status).toBe(200);
      await live.body?.cancel();
      const resuming = await post({ 'last-event-id': encodeEventCursor(1) });
      const text = await resuming.text();
      expect(text).toMatch(/"code":"QUERY_TOO_COMPLEX"/);
      expect(text).not.toMatch(/"data":\{/);
    } finally {
      await own.close();
    }
  });
});

(runsBrowser ? describe : describe.skip)('a browser EventSource', () => {
  let browser: Browser;
  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium).`,
      );
    }
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'],
    });
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('reconnects by itself after the instance restarts and shows the two events committed meanwhile, once each', async () => {
    const origin = new URL(gateway?.url ?? '').origin;
    const page = await browser.newPage();
    // Same origin as the endpoint: the page is the gateway's own health check.
    await page.goto(`${origin}/health`);
    await page.evaluate((query) => {
      const state = { slugs: [] as string[], opens: 0 };
      (window as unknown as { state: typeof state }).state = state;
      const source = new EventSource(`/graphql?query=${encodeURIComponent(query)}`);
      source.addEventListener('open', () => {
        state.opens += 1;
      });
      source.addEventListener('next', (event) => {
        const result = JSON.parse((event as MessageEvent).data);
        state.slugs.push(result.data.demandSignalRecorded.slug);
      });
    }, SIGNALS);
    const state = () =>
      page.evaluate(
        () => (window as unknown as { state: { slugs: string[]; opens: number } }).state,
      );
    const waitFor = async (check: (s: { slugs: string[]; opens: number }) => boolean) => {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const now = await state();
        if (check(now)) return now;
        if (Date.now() > deadline) throw new Error(`browser state: ${JSON.stringify(now)}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    };
    await waitFor((s) => s.opens === 1);
    await commitSignal('ds-browser-1');
    await waitFor((s) => s.slugs.length === 1);

    // The instance stops (the stream ends), two events commit while it is down.
    await gateway?.stop();
    gateway = undefined;
    await withGatewayDatabase(database, async (db) => {
      await insertSignal(db, 'ds-browser-2', 'h200', ['nvidia']);
      await insertSignal(db, 'ds-browser-3', 'h200', ['nvidia']);
    });
    gateway = await startOn(port, database);

    const after = await waitFor((s) => s.slugs.length >= 3 && s.opens >= 2);
    // A live one after the resume, too.
    await commitSignal('ds-browser-4');
    const final = await waitFor((s) => s.slugs.length >= 4);
    expect(after.slugs.slice(0, 3)).toEqual(['ds-browser-1', 'ds-browser-2', 'ds-browser-3']);
    expect(final.slugs).toEqual(['ds-browser-1', 'ds-browser-2', 'ds-browser-3', 'ds-browser-4']);
    await page.close();
  }, 90_000);
});
