/**
 * What each subscription receives: the event table it listens to and its filter, applied on
 * the server to the attributes the hub loaded once per event (`EventEnvelope`). The semantics
 * match the `PolicyDecisionFilter` and `DemandSignalFilter` of the list queries.
 */
import type { EventEnvelope } from '../db/events.js';
import { SlowConsumerError } from '../errors.js';
import type { SubscriberItem } from './subscriber.js';

/** `PolicyDecisionFilter` as a subscription passes it. */
export interface PolicyDecisionEventFilter {
  jurisdiction?: readonly string[] | null;
  destination?: string | null;
  /** Matches the status the decision changed to (`toStatus`). */
  status?: readonly string[] | null;
  kind?: readonly string[] | null;
  chip?: string | null;
  company?: string | null;
  announcedFrom?: string | null;
  announcedTo?: string | null;
}

/** `DemandSignalFilter` as a subscription passes it. */
export interface DemandSignalEventFilter {
  kind?: readonly string[] | null;
  chip?: string | null;
  company?: string | null;
  observedFrom?: string | null;
  observedTo?: string | null;
}

const within = (value: string, from?: string | null, to?: string | null) =>
  (!from || value >= from) && (!to || value <= to);

const anyOf = (value: string, allowed?: readonly string[] | null) =>
  !allowed?.length || allowed.includes(value);

/** Status changes of policy decisions that satisfy `filter` (all given conditions). */
export function matchesPolicyDecisionEvent(filter: PolicyDecisionEventFilter | null | undefined) {
  return (event: EventEnvelope): boolean => {
    if (event.source !== 'policy_decision_updates') return false;
    if (!filter) return true;
    return (
      anyOf(event.jurisdiction, filter.jurisdiction) &&
      (!filter.destination || event.destinations.includes(filter.destination)) &&
      anyOf(event.status, filter.status) &&
      anyOf(event.kind, filter.kind) &&
      (filter.chip == null || event.chips.includes(filter.chip)) &&
      (filter.company == null || event.companies.includes(filter.company)) &&
      within(event.date, filter.announcedFrom, filter.announcedTo)
    );
  };
}

/** New demand signals that satisfy `filter` (all given conditions). */
export function matchesDemandSignalEvent(filter: DemandSignalEventFilter | null | undefined) {
  return (event: EventEnvelope): boolean => {
    if (event.source !== 'demand_signals') return false;
    if (!filter) return true;
    return (
      anyOf(event.kind, filter.kind) &&
      (filter.chip == null || event.chips.includes(filter.chip)) &&
      (filter.company == null || event.companies.includes(filter.company)) &&
      within(event.date, filter.observedFrom, filter.observedTo)
    );
  };
}

/**
 * The event of a subscriber's item; throws `SlowConsumerError` (code `SLOW_CONSUMER`) for the
 * notice that ends a subscriber that fell behind, so the client gets a clear last message.
 */
export function eventOf(item: SubscriberItem): EventEnvelope {
  if ('slowConsumer' in item) {
    throw new SlowConsumerError(
      `Subscription closed: ${item.queued} events were waiting for this client. Resubscribe ` +
        'with `after:` the last eventCursor you received to continue without losing events.',
    );
  }
  return item;
}
