/**
 * A reconnect storm: 200 subscribers (SSE and graphql-ws, three cohorts with their own filters
 * and cursors) hold on gateway A; A stops gracefully; three events commit while no gateway
 * runs; gateway B starts on the same database and all 200 resume at once with `after:` their
 * last cursor. Each receives exactly the missed events that match its filter, in commit order,
 * then a live one; and the catch-up costs a few SQL statements per cohort, not per subscriber
 * (the statements are counted with a logger inside B, the event stream's own reads included).
 * On the run's backend.
 */
import type { Logger } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { openDatabase } from '../src/db/client.js';
import { EVENT_STREAM_SQL_MARK } from '../src/db/events.js';
import { createKey, type TestKey } from './helpers/keys.js';
import {
  type GatewayDatabase,
  gatewayDatabase,
  type InProcessGateway,
  startInProcessGateway,
} from './helpers/server.js';
import {
  subscribeSse,
  subscribeWs,
  type TestSubscription,
  wsClient,
} from './helpers/subscribers.js';
import { insertSignal, setStatus } from './helpers/writes.js';

/** Every statement a gateway sends, the event stream's included (unlike `StatementLog`). */
class AllStatements implements Logger {
  readonly statements: string[] = [];
  logQuery(query: string): void {
    this.statements.push(query);
  }
  since(mark: number): string[] {
    return this.statements.slice(mark);
  }
}

const SIGNALS = /* GraphQL */ `
  subscription($a: String, $company: String) {
    demandSignalRecorded(after: $a, filter: { company: $company }) { slug eventCursor }
  }
`;
const UPDATES = /* GraphQL */ `
  subscription($a: String) {
    policyDecisionUpdated(after: $a, filter: { jurisdiction: ["US"] }) {
      toStatus note eventCursor decision { slug }
    }
  }
`;

/** A cohort: one operation and filter; what one of its events looks like, for assertions. */
interface Cohort {
  name: string;
  query: string;
  variables: Record<string, unknown>;
  /** The delivered item's identity: a signal's slug, an update's note. */
  label: (data: any) => string;
  /** The delivered item's cursor. */
  cursor: (data: any) => string;
}

const COHORTS: Cohort[] = [
  {
    name: 'alibaba signals',
    query: SIGNALS,
    variables: { company: 'alibaba' },
    label: (data) => data.demandSignalRecorded.slug,
    cursor: (data) => data.demandSignalRecorded.eventCursor,
  },
  {
    name: 'bytedance signals',
    query: SIGNALS,
    variables: { company: 'bytedance' },
    label: (data) => data.demandSignalRecorded.slug,
    cursor: (data) => data.demandSignalRecorded.eventCursor,
  },
  {
    name: 'US status changes',
    query: UPDATES,
    variables: {},
    label: (data) => data.policyDecisionUpdated.note,
    cursor: (data) => data.policyDecisionUpdated.eventCursor,
  },
];

const SUBSCRIBERS = 200;
/** graphql-ws connections; the WebSocket half of the subscribers is spread over them. */
const WS_CONNECTIONS = 10;
const US_DECISION = 'us-whitehouse-2025-12-08-h200-approval';

/** One subscriber of the storm: its cohort and transport. */
interface Member {
  cohort: Cohort;
  transport: 'sse' | 'ws';
  /** Which graphql-ws connection (ws only). */
  connection: number;
}

const members: Member[] = Array.from({ length: SUBSCRIBERS }, (_, i) => ({
  cohort: COHORTS[i % COHORTS.length] as Cohort,
  transport: i % 2 === 0 ? 'sse' : 'ws',
  connection: Math.floor(i / 2) % WS_CONNECTIONS,
}));

let database: GatewayDatabase;
/** The partner key every subscriber presents. */
let key: TestKey;
const gateways: InProcessGateway[] = [];
const wsClients: ReturnType<typeof wsClient>[] = [];

beforeAll(async () => {
  database = await gatewayDatabase();
  await writeDirectly(async (db) => {
    key = await createKey(db, ['read'], 'storm');
  });
}, 60_000);
afterAll(async () => {
  await Promise.all(wsClients.map((client) => client.dispose()));
  for (const gateway of gateways) await gateway.running.stop().catch(() => {});
  await database?.cleanup();
});

async function startOnDatabase(log?: Logger): Promise<InProcessGateway> {
  const gateway = await startInProcessGateway(
    { CHIPGATE_SHUTDOWN_TIMEOUT_MS: '2000' },
    undefined,
    database,
    log ? { statementLogger: log } : {},
  );
  gateways.push(gateway);
  return gateway;
}

/** Subscribes every member to `url`, each `after` its cursor (none: live only). */
async function subscribeAll(url: string, cursors?: string[]): Promise<TestSubscription[]> {
  const clients = Array.from({ length: WS_CONNECTIONS }, () =>
    wsClient(url, { authorization: key.headers.authorization }),
  );
  wsClients.push(...clients);
  return Promise.all(
    members.map(async (member, i) => {
      const variables = { ...member.cohort.variables, ...(cursors ? { a: cursors[i] } : {}) };
      if (member.transport === 'sse') {
        return subscribeSse(url, member.cohort.query, variables, key.headers);
      }
      return subscribeWs(clients[member.connection] as never, member.cohort.query, variables);
    }),
  );
}

/** Writes with a short-lived connection of the test's own (no gateway holds the database). */
async function writeDirectly(write: (db: any) => Promise<void>): Promise<void> {
  const handle = await openDatabase({
    databaseUrl: database.env.DATABASE_URL,
    pgliteDir: database.env.CHIPGATE_PGLITE_DIR,
    poolMax: 1,
  });
  try {
    await write(handle.db);
  } finally {
    await handle.close();
  }
}

describe('reconnect storm', () => {
  it('200 subscribers resume at once after a restart: exactly their missed events in order, then live, for a few statements per cohort', async () => {
    const a = await startOnDatabase();
    const db = () => a.running.db.db;
    const first = await subscribeAll(a.url);
    await vi.waitFor(() => expect(a.running.events.stats().subscribers).toBe(SUBSCRIBERS), {
      timeout: 30_000,
    });
    // One event per cohort, so the three cohorts hold three different cursors.
    await insertSignal(db(), 'storm-before-alibaba', null, ['alibaba']);
    await setStatus(db(), US_DECISION, 'SUSPENDED', 'storm before');
    await insertSignal(db(), 'storm-before-bytedance', null, ['bytedance']);
    const expectedBefore: Record<string, string> = {
      'alibaba signals': 'storm-before-alibaba',
      'bytedance signals': 'storm-before-bytedance',
      'US status changes': 'storm before',
    };
    const cursors = await Promise.all(
      first.map(async (subscription, i) => {
        const { cohort } = members[i] as Member;
        const [result] = await subscription.waitForResults(1, 30_000);
        expect(result?.errors).toBeUndefined();
        expect(cohort.label(result?.data)).toBe(expectedBefore[cohort.name]);
        return cohort.cursor(result?.data);
      }),
    );
    expect(new Set(cursors).size).toBe(COHORTS.length);

    // A stops gracefully: every subscription ends with its transport's "complete".
    await a.running.stop();
    await Promise.all(first.map((subscription) => subscription.waitForComplete(30_000)));
    expect(first.map((subscription) => subscription.results.length)).toEqual(members.map(() => 1));

    // Missed while no gateway ran.
    await writeDirectly(async (db) => {
      await insertSignal(db, 'storm-missed-both', null, ['alibaba', 'bytedance']);
      await setStatus(db, US_DECISION, 'IN_EFFECT', 'storm missed');
      await insertSignal(db, 'storm-missed-alibaba', null, ['alibaba']);
    });

    const log = new AllStatements();
    const b = await startOnDatabase(log);
    const mark = log.statements.length;
    const resumed = await subscribeAll(b.url, cursors);
    const missed: Record<string, string[]> = {
      'alibaba signals': ['storm-missed-both', 'storm-missed-alibaba'],
      'bytedance signals': ['storm-missed-both'],
      'US status changes': ['storm missed'],
    };
    await Promise.all(
      resumed.map((subscription, i) =>
        subscription.waitForResults(
          (missed[(members[i] as Member).cohort.name] as string[]).length,
          30_000,
        ),
      ),
    );
    const catchUp = log.since(mark);
    const streamReads = catchUp.filter((text) => text.startsWith(EVENT_STREAM_SQL_MARK));
    const keyReads = catchUp.filter((text) => /\bapi_keys\b/.test(text));
    const payloadReads = catchUp.length - streamReads.length - keyReads.length;
    // Before the reads were shared: 867 statements here without keys (3 event-stream reads per
    // subscriber: a cursor check of two and a replay page; one payload read per replayed event
    // each), and a key lookup per SSE request and WebSocket connection (110).
    console.log(
      `storm catch-up: ${catchUp.length} statements for ${SUBSCRIBERS} subscribers: ` +
        `${streamReads.length} event-stream reads, ${keyReads.length} key reads, ` +
        `${payloadReads} payload reads`,
    );

    // Live after the catch-up.
    await vi.waitFor(() => expect(b.running.events.stats().subscribers).toBe(SUBSCRIBERS));
    await insertSignal(b.running.db.db, 'storm-live-both', null, ['alibaba', 'bytedance']);
    await setStatus(b.running.db.db, US_DECISION, 'SUSPENDED', 'storm live');
    await Promise.all(
      resumed.map((subscription, i) =>
        subscription.waitForResults(
          (missed[(members[i] as Member).cohort.name] as string[]).length + 1,
          30_000,
        ),
      ),
    );
    await b.running.events.settled();
    for (const [i, subscription] of resumed.entries()) {
      const { cohort } = members[i] as Member;
      const live = cohort.name === 'US status changes' ? 'storm live' : 'storm-live-both';
      expect(subscription.results.map((result) => result.errors)).toEqual(
        subscription.results.map(() => undefined),
      );
      expect(subscription.results.map((result) => cohort.label(result.data))).toEqual([
        ...(missed[cohort.name] as string[]),
        live,
      ]);
    }
    // Bounded by the cohorts and cursors, not by the 200 subscribers: at most one window read
    // per distinct cursor (one when the lowest cursor is read first), and one payload read per
    // replayed event and cohort (2 + 1 + 1) per window read, shared by the cohort's subscribers.
    expect(streamReads.length).toBeGreaterThanOrEqual(1);
    expect(streamReads.length).toBeLessThanOrEqual(COHORTS.length);
    expect(payloadReads).toBeGreaterThanOrEqual(4);
    expect(payloadReads).toBeLessThanOrEqual(4 * streamReads.length);
    // The key lookups of concurrent requests are shared too: never more than one per request.
    expect(keyReads.length).toBeGreaterThanOrEqual(1);
    expect(keyReads.length).toBeLessThanOrEqual(SUBSCRIBERS / 2 + WS_CONNECTIONS);
  }, 180_000);
});
