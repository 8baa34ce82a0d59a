/**
 * The event stream as stored: every row of `policy_decision_updates` and `demand_signals`, in
 * `event_seq` order, which is commit order (the insert trigger draws `event_seq` under a
 * transaction-level advisory lock, see the `triggers` migration). Subscriptions read it here
 * to catch up after a lost LISTEN connection and to replay from a client's cursor.
 */
import { sql } from 'drizzle-orm';
import { type Database, queryRows } from './client.js';

/** Which table an event row lives in. */
export type EventSource = 'policy_decision_updates' | 'demand_signals';

/**
 * One event with the attributes subscriptions filter on, loaded once per event for all
 * subscribers (each subscriber then loads the fields it selected).
 */
export type EventEnvelope = (
  | {
      source: 'policy_decision_updates';
      /** `policy_decision_updates.id`. */
      id: number;
      /** `event_seq`: position in commit order. */
      seq: number;
      /** The decision's status after this update (`to_status`). */
      status: string;
      /** The decision's jurisdiction (ISO 3166-1 alpha-2). */
      jurisdiction: string;
      /** The decision's destination countries (ISO 3166-1 alpha-2). */
      destinations: string[];
      /** The decision's `kind`. */
      kind: string;
      /** The decision's `announced_on` (YYYY-MM-DD). */
      date: string;
      /** Slugs of the chips the decision names. */
      chips: string[];
      /** Slugs of the companies the decision names. */
      companies: string[];
    }
  | {
      source: 'demand_signals';
      /** `demand_signals.id`. */
      id: number;
      /** `event_seq`: position in commit order. */
      seq: number;
      /** The signal's `kind`. */
      kind: string;
      /** The signal's `observed_on` (YYYY-MM-DD). */
      date: string;
      /** Slug of the chip the signal is about (zero or one). */
      chips: string[];
      /** Slugs of the companies the signal names. */
      companies: string[];
    }
) & {
  /** When the event's transaction started (Unix seconds), for delivery-lag metrics. */
  at?: number;
};

/**
 * Marks the event stream's own statements (a leading SQL comment), so statement logs can tell
 * them from the statements of the request being served.
 */
export const EVENT_STREAM_SQL_MARK = '/* chipgate:event-stream */';

interface EnvelopeRow {
  seq: string | number;
  source: EventSource;
  id: string | number;
  attrs: string | Record<string, unknown>;
}

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
    sql`${sql.raw(EVENT_STREAM_SQL_MARK)} select * from (
      select u.event_seq as seq, 'policy_decision_updates' as source, u.id,
        json_build_object(
          'at', extract(epoch from u.created_at),
          'status', u.to_status, 'jurisdiction', d.jurisdiction,
          'destinations', to_json(d.destinations), 'kind', d.kind, 'date', d.announced_on,
          'chips', coalesce((select json_agg(c.slug order by c.slug)
            from policy_decision_chips pdc join chips c on c.id = pdc.chip_id
            where pdc.decision_id = d.id), '[]'::json),
          'companies', coalesce((select json_agg(co.slug order by co.slug)
            from policy_decision_companies pdco join companies co on co.id = pdco.company_id
            where pdco.decision_id = d.id), '[]'::json)) as attrs
      from policy_decision_updates u join policy_decisions d on d.id = u.decision_id
      where u.event_seq > ${afterSeq}
      union all
      select s.event_seq, 'demand_signals', s.id,
        json_build_object(
          'at', extract(epoch from s.created_at),
          'kind', s.kind, 'date', s.observed_on,
          'chips', coalesce((select json_agg(c.slug) from chips c where c.id = s.chip_id), '[]'::json),
          'companies', coalesce((select json_agg(co.slug order by co.slug)
            from demand_signal_companies dsc join companies co on co.id = dsc.company_id
            where dsc.signal_id = s.id), '[]'::json))
      from demand_signals s
      where s.event_seq > ${afterSeq}
    ) events order by seq limit ${limit}`,
  );
  return rows.map((row) => {
    const attrs = (typeof row.attrs === 'string' ? JSON.parse(row.attrs) : row.attrs) as {
      destinations?: string[] | null;
    };
    // char(2) values come back blank-padded from some drivers' JSON; codes never contain spaces.
    if (attrs.destinations) attrs.destinations = attrs.destinations.map((code) => code.trim());
    return {
      ...attrs,
      source: row.source,
      id: Number(row.id),
      seq: Number(row.seq),
    } as EventEnvelope;
  });
}

/** The highest `event_seq` committed so far (0 when there are no events). */
export async function latestEventSeq(db: Database): Promise<number> {
  const [row] = await queryRows<{ seq: string | number | null }>(
    db,
    sql`${sql.raw(EVENT_STREAM_SQL_MARK)} select greatest(
      (select max(event_seq) from policy_decision_updates),
      (select max(event_seq) from demand_signals)) as seq`,
  );
  return Number(row?.seq ?? 0);
}
