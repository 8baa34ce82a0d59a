/**
 * Circuit breaker states by name, as logs and metrics show them, for every breaker of the
 * gateway (cockatiel's, around external sources and around Redis).
 */
import type { CircuitState } from 'cockatiel';

/** A circuit breaker's state: `closed` (calls go through), `open`, `half-open` (one probe), `isolated`. */
export type BreakerState = 'closed' | 'open' | 'half-open' | 'isolated';

/** Every state, in the order of cockatiel's `CircuitState` values. */
export const BREAKER_STATES: readonly BreakerState[] = ['closed', 'open', 'half-open', 'isolated'];

/** The name of a cockatiel breaker state. */
export function breakerStateName(state: CircuitState): BreakerState {
  return BREAKER_STATES[state] ?? 'open';
}
