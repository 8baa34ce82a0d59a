/**
 * The event stream as stored: every row of `policy_decision_updates` and `demand_signals`, in
 * `event_seq` order, which is commit order (the insert trigger draws `event_seq` under a
 * transaction-level advisory lock, see the `triggers` migration). Subscriptions read it here
 * to catch up after a lost LISTEN connection and to replay from a client's cursor.
 */
import { sql } from 'drizzle-orm';
import { alias } from 'drizzle-orm/pg-core';
import { type Database, queryRows } from './client.js';
import { attributesJson } from './filter-kit.js';
import { demandSignalFilter, policyDecisionFilter } from './filters.js';
import { demandSignals, policyDecisions } from './schema.js';

/** Which table an event row lives in. */
export type EventSource = 'policy_decision_updates' | 'demand_signals';

/**
 * One event with the attributes subscriptions filter on, loaded once per event for all
 * subscribers (each subscriber then loads the fields it selected). The attributes are those
 * the filter of the event's list declares (`policyDecisionFilter`, `demandSignalFilter`):
 * a status change carries its decision's attributes, with `status` the status it changed to.
 */
export interface EventEnvelope {
  source: EventSource;
  /** Row id in the source table. */
  id: number;
  /** `event_seq`: position in commit order. */
  seq: number;
  /** The filter attributes of the event (see `attributesJson`). */
  attributes: Record<string, unknown>;
  /** When the event's row was written (Unix seconds), for delivery-lag metrics. */
  at?: number;
  /**
   * A WAL position of the primary at or past the event's commit (`pg_lsn` text), read by the
   * hub after loading the event when read replicas are configured: the event's payload is read
   * on a replica only once it has replayed this far (see `src/replica-routing.ts`).
   */
  lsn?: string;
}

/**
 * Marks the event stream's own statements (a leading SQL comment), so statement logs can tell
 * them from the statements of the request being served.
 */
export const EVENT_STREAM_SQL_MARK = '/* chipgate:event-stream */';

interface EnvelopeRow {
  seq: string | number;
  source: EventSource;
  id: string | number;
  at: string | number | null;
  attrs: string | Record<string, unknown>;
}

const decision = alias(policyDecisions, 'd');
const signal = alias(demandSignals, 's');

/** The events after `afterSeq` (one union over both event tables), unordered and unlimited. */
const eventsAfter = (afterSeq: number) => sql`
      select u.event_seq as seq, 'policy_decision_updates' as source, u.id,
        extract(epoch from u.created_at)::float8 as at,
        ${attributesJson(policyDecisionFilter, decision, { status: sql`to_json(u.to_status)` })} as attrs
      from policy_decision_updates u join ${policyDecisions} ${decision} on ${decision.id} = u.decision_id
      where u.event_seq > ${afterSeq}
      union all
      select ${signal.eventSeq}, 'demand_signals', ${signal.id},
        extract(epoch from ${signal.createdAt})::float8,
        ${attributesJson(demandSignalFilter, signal)}
      from ${demandSignals} ${signal}
      where ${signal.eventSeq} > ${afterSeq}`;

/** The highest `event_seq` committed, as an SQL expression (null when there are none). */
const NEWEST = sql`greatest(
      (select max(event_seq) from policy_decision_updates),
      (select max(event_seq) from demand_signals))`;

const envelopeOf = (row: EnvelopeRow): EventEnvelope => ({
  source: row.source,
  id: Number(row.id),
  seq: Number(row.seq),
  ...(row.at == null ? {} : { at: Number(row.at) }),
  attributes: (typeof row.attrs === 'string' ? JSON.parse(row.attrs) : row.attrs) as Record<
    string,
    unknown
  >,
});

/**
 * Events with `event_seq > afterSeq`, oldest first, at most `limit` (one SQL statement).
 * Rows are visible only once committed, and `event_seq` is commit order, so reading "after the
 * last one seen" never skips a row that commits later.
 */
export async function loadEventsAfter(
  db: Database,
  afterSeq: number,
  limit: number,
): Promise<EventEnvelope[]> {
  const rows = await queryRows<EnvelopeRow>(
    db,
    sql`${sql.raw(EVENT_STREAM_SQL_MARK)} select * from (${eventsAfter(afterSeq)}
    ) events order by seq limit ${limit}`,
  );
  return rows.map(envelopeOf);
}

/** What `loadEventWindow` read: events after a position, and the newest committed then. */
export interface EventWindow {
  /** Events with `event_seq > afterSeq`, oldest first, at most the limit asked for. */
  events: EventEnvelope[];
  /**
   * The highest `event_seq` committed when the statement ran (0: none), in the same snapshot
   * as `events`: every event up to it was visible to the statement (commit order).
   */
  newest: number;
}

/**
 * `loadEventsAfter` and `latestEventSeq` in one statement (one snapshot): the replay reads
 * of resuming subscriptions and their cursor checks share it (see `src/pubsub/replay.ts`).
 */
export async function loadEventWindow(
  db: Database,
  afterSeq: number,
  limit: number,
): Promise<EventWindow> {
  const rows = await queryRows<EnvelopeRow & { newest: string | number | null }>(
    db,
    sql`${sql.raw(EVENT_STREAM_SQL_MARK)} select n.newest, e.* from (select ${NEWEST} as newest) n
    left join lateral (select * from (${eventsAfter(afterSeq)}
    ) events order by seq limit ${limit}) e on true order by e.seq`,
  );
  const newest = Number(rows[0]?.newest ?? 0);
  return { events: rows.filter((row) => row.seq != null).map(envelopeOf), newest };
}

/** The highest `event_seq` committed so far (0 when there are no events). */
export async function latestEventSeq(db: Database): Promise<number> {
  const [row] = await queryRows<{ seq: string | number | null }>(
    db,
    sql`${sql.raw(EVENT_STREAM_SQL_MARK)} select ${NEWEST} as seq`,
  );
  return Number(row?.seq ?? 0);
}
