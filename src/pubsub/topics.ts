/**
 * What each subscription receives: the event table it listens to, and its filter, matched on
 * the server against the attributes the hub loaded once per event (`EventEnvelope`). The
 * matchers derive from the same filter declarations as the lists' SQL, so a subscription and
 * a list with the same filter agree.
 */

import { GraphQLError } from 'graphql';
import { encodeEventCursor } from '../codecs.js';
import { REPLAY_MAX } from '../cost.js';
import type { EventEnvelope } from '../db/events.js';
import { filterMatcher } from '../db/filter-kit.js';
import {
  type DemandSignalFilterValue,
  demandSignalFilter,
  type PolicyDecisionFilterValue,
  policyDecisionFilter,
} from '../db/filters.js';
import { ErrorCode, SlowConsumerError } from '../errors.js';
import type { SubscriberItem } from './subscriber.js';

/**
 * Status changes of policy decisions that satisfy `filter` (all given conditions; `status`
 * is the status the decision changed to).
 */
export function matchesPolicyDecisionEvent(filter: PolicyDecisionFilterValue | null | undefined) {
  const matches = filterMatcher(policyDecisionFilter, filter);
  return (event: EventEnvelope): boolean =>
    event.source === 'policy_decision_updates' && matches(event.attributes);
}

/** New demand signals that satisfy `filter` (all given conditions). */
export function matchesDemandSignalEvent(filter: DemandSignalFilterValue | null | undefined) {
  const matches = filterMatcher(demandSignalFilter, filter);
  return (event: EventEnvelope): boolean =>
    event.source === 'demand_signals' && matches(event.attributes);
}

/**
 * The event of a subscriber's item; throws `SlowConsumerError` (code `SLOW_CONSUMER`) for the
 * notice that ends a subscriber that fell behind, and `BAD_USER_INPUT` with
 * `extensions.resumeAfter` (the cursor to resume from) for one whose replay reached
 * `REPLAY_MAX`, so the client gets a clear last message.
 */
export function eventOf(item: SubscriberItem): EventEnvelope {
  if ('replayLimit' in item) {
    throw new GraphQLError(
      `Subscription closed: more than ${REPLAY_MAX} events came after \`after\`. Resubscribe ` +
        'with `after: extensions.resumeAfter` to continue without losing events.',
      {
        extensions: {
          code: ErrorCode.BAD_USER_INPUT,
          resumeAfter: encodeEventCursor(item.resumeAfter),
        },
      },
    );
  }
  if ('slowConsumer' in item) {
    throw new SlowConsumerError(
      `Subscription closed: ${item.queued} events were waiting for this client. Resubscribe ` +
        'with `after:` the last eventCursor you received to continue without losing events.',
    );
  }
  return item;
}
