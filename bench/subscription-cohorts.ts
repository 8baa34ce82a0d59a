/**
 * Cohorts of the subscription benchmark and the check of what each subscriber received.
 *
 * A cohort is one distinct subscription: `policyDecisionUpdated(filter: { chip: $chip })` with
 * its own chip, and (past the number of chips) a second, leaner selection. Each event the writer
 * commits is a status change of one decision, so it reaches exactly the cohorts whose chip the
 * decision names (`policy_decision_chips`): the expected receipts are known before the run, and
 * every subscriber must receive its cohort's events exactly once, in commit order.
 */
import type { CohortDocument, SubscriberLog } from './subscription-clients.js';

const FULL = `id toStatus note occurredAt eventCursor
      decision { slug title status chips { chip { slug } effect } }`;
const LEAN = 'toStatus note eventCursor';

/** One cohort: its chip, which selection, and the document the clients send. */
export interface Cohort {
  chip: string;
  selection: 'full' | 'lean';
  document: CohortDocument;
}

/** One committed event: its note number, the chips of its decision, when its COMMIT returned. */
export interface BenchEvent {
  note: number;
  chips: ReadonlySet<string>;
  /** `performance.timeOrigin + performance.now()` when the writer's COMMIT returned, in ms. */
  committedAt: number;
}

/**
 * `count` cohorts over `chips` (the chips that decisions name, most named first): cohort k
 * filters on chip k mod chips.length, with the full selection for the first round over the
 * chips and the lean one for the second. Throws past two rounds.
 */
export function buildCohorts(count: number, chips: readonly string[]): Cohort[] {
  if (!Number.isInteger(count) || count < 1 || count > 2 * chips.length) {
    throw new Error(
      `BENCH_COHORTS: 1-${2 * chips.length} (two selections of ${chips.length} chips)`,
    );
  }
  return Array.from({ length: count }, (_, k) => {
    const chip = chips[k % chips.length] as string;
    const selection = k < chips.length ? 'full' : 'lean';
    const fields = selection === 'full' ? FULL : LEAN;
    const query = `subscription Bench${k}($chip: String!, $after: String) {
    policyDecisionUpdated(filter: { chip: $chip }, after: $after) { ${fields} }
  }`;
    return { chip, selection, document: { query, variables: { chip } } };
  });
}

/** The note numbers a cohort on `chip` should receive from `events`, in commit order. */
export function expectedNotes(chip: string, events: readonly BenchEvent[]): number[] {
  return events.filter((event) => event.chips.has(chip)).map((event) => event.note);
}

/** The outcome of checking every subscriber's log. */
export interface DeliveryCheck {
  /** Receipts that were expected and arrived (each counted once). */
  deliveries: number;
  /** Subscribers whose log differs from their cohort's expected notes. */
  wrong: number;
  /** A few of those differences, for the error message. */
  samples: string[];
  /** Receipt minus COMMIT of every delivery of the notes in `latencyNotes`, in ms, sorted. */
  latencies: number[];
}

/**
 * Checks that subscriber i (cohort `cohortOf[i]`) received exactly its cohort's events in
 * order, and collects latencies of the events whose notes are in `latencyNotes` (all: undefined).
 */
export function checkDeliveries(
  logs: readonly SubscriberLog[],
  cohortOf: readonly number[],
  cohorts: readonly Cohort[],
  events: readonly BenchEvent[],
  latencyNotes?: ReadonlySet<number>,
): DeliveryCheck {
  const expected = cohorts.map((cohort) => expectedNotes(cohort.chip, events));
  const committed = new Map(events.map((event) => [event.note, event.committedAt]));
  const check: DeliveryCheck = { deliveries: 0, wrong: 0, samples: [], latencies: [] };
  logs.forEach((log, i) => {
    const want = expected[cohortOf[i] as number] as number[];
    const same = log.notes.length === want.length && log.notes.every((n, j) => n === want[j]);
    if (!same) {
      check.wrong += 1;
      if (check.samples.length < 3) {
        check.samples.push(
          `subscriber ${i} (cohort ${cohortOf[i]}): got [${log.notes.join(',')}], want [${want.join(',')}]`,
        );
      }
    }
    log.notes.forEach((note, j) => {
      if (!want.includes(note)) return;
      check.deliveries += 1;
      if (latencyNotes && !latencyNotes.has(note)) return;
      check.latencies.push((log.times[j] as number) - (committed.get(note) as number));
    });
  });
  check.latencies.sort((a, b) => a - b);
  return check;
}

/** Throws with the differences when a subscriber's log is not its cohort's events. */
export function assertExact(what: string, check: DeliveryCheck): void {
  if (check.wrong > 0) {
    throw new Error(
      `${what}: ${check.wrong} subscribers did not receive exactly their events in order: ` +
        check.samples.join('; '),
    );
  }
}
