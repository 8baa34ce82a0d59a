/**
 * Load generation (in the driver process; the target measures itself): closed-loop runs with
 * autocannon, fixed-rate (open-loop) runs, and a single plain request for checking a response.
 * Every response of every run is checked (status 200, `data` and no `errors`), so a server
 * that answers fast with errors cannot pass for a fast server.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import autocannon from 'autocannon';
import { isDataWithoutErrors, REQUEST_HEADERS } from './workload.js';

/** Responses of a run that were not a 200 with `data` and no `errors`. */
export interface ResponseProblems {
  /** Connection errors and timeouts. */
  errors: number;
  non2xx: number;
  /** 2xx responses whose body has no `data` object or has `errors`. */
  bad: number;
  /** The start of the first bad body, to show what went wrong. */
  firstBad?: string;
}

/** What one closed-loop load run observed from the client side. */
export interface LoadResult extends ResponseProblems {
  /** Completed responses. */
  requests: number;
  /** Wall time of the run, in seconds. */
  seconds: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
}

/** What one fixed-rate run observed. */
export interface RateResult extends ResponseProblems {
  /** Requests per second asked for. */
  rate: number;
  sent: number;
  /**
   * Requests not sent because `2 x rate` were already waiting for their response: the server
   * is saturated (its latencies are queueing) and the run stays bounded in time.
   */
  skipped: number;
  /** Responses received (any status). */
  completed: number;
  /** Responses per second, from the first due time to the last response. */
  achievedPerSecond: number;
  /** Latency from each request's due time to the end of its response. */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** Whether a run saw any response that was not a 200 with `data` and no `errors`. */
export function hasProblems(result: ResponseProblems): boolean {
  return result.errors + result.non2xx + result.bad > 0;
}

/** The problems of a run in words, e.g. `3 non-2xx responses, 1 with errors`; empty if none. */
export function describeProblems(result: ResponseProblems): string {
  const parts: string[] = [];
  if (result.errors > 0) parts.push(`${result.errors} connection errors/timeouts`);
  if (result.non2xx > 0) parts.push(`${result.non2xx} non-2xx responses`);
  if (result.bad > 0) parts.push(`${result.bad} responses without data or with errors`);
  if (result.firstBad !== undefined) parts.push(`first bad body: ${result.firstBad}`);
  return parts.join(', ');
}

/**
 * The `p`-th percentile (0..100) of `sorted` (ascending), by the nearest-rank method: the
 * smallest value with at least p% of the values at or below it. NaN when empty.
 */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1] as number;
}

/** Records bodies that fail `isDataWithoutErrors`. */
function bodyChecker(problems: ResponseProblems): (body: string) => boolean {
  return (body) => {
    if (isDataWithoutErrors(body)) return true;
    problems.bad += 1;
    problems.firstBad ??= body.slice(0, 300);
    return false;
  };
}

/**
 * POSTs `bodies` in turn (shared across connections) to `url` with `connections` connections,
 * each sending its next request when the previous response is in (closed loop), for `seconds`.
 */
export async function runLoad(
  url: string,
  seconds: number,
  connections: number,
  bodies: readonly string[],
): Promise<LoadResult> {
  const problems: ResponseProblems = { errors: 0, non2xx: 0, bad: 0 };
  let next = 0;
  const result = await autocannon({
    url,
    method: 'POST',
    headers: { ...REQUEST_HEADERS },
    body: bodies[0] ?? '',
    requests: [
      {
        setupRequest: (request) => {
          const body = bodies[next % bodies.length] ?? '';
          next += 1;
          return { ...request, body };
        },
      },
    ],
    verifyBody: bodyChecker(problems),
    connections,
    duration: seconds,
    timeout: 30,
  });
  return {
    requests: result.requests.total,
    seconds: result.duration,
    requestsPerSecond: result.duration > 0 ? result.requests.total / result.duration : 0,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    ...problems,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}

/**
 * Sends `bodies` in turn to `url` at a fixed `rate` (requests per second) for `seconds`, each
 * on its schedule whether or not earlier responses are in (open loop; keep-alive connections
 * are opened as needed). Latency counts from the request's due time, so a late start is not
 * hidden. A saturated server gets at most `2 x rate` requests waiting; later ones are skipped.
 * `headers` are added to every request (e.g. a partner's `authorization`). autocannon's
 * `overallRate` is not used: it sends each connection's share of a second in a burst at the
 * start of the second, and corrects its latencies with a 1 ms interval.
 */
export async function runAtRate(
  url: string,
  rate: number,
  seconds: number,
  bodies: readonly string[],
  headers: Record<string, string> = {},
): Promise<RateResult> {
  const problems: ResponseProblems = { errors: 0, non2xx: 0, bad: 0 };
  const check = bodyChecker(problems);
  const count = Math.max(1, Math.round(rate * seconds));
  const intervalMs = 1000 / rate;
  const latencies: number[] = [];
  // A saturated server would make the backlog, and the run, grow without bound.
  const maxOutstanding = Math.max(10, 2 * rate);
  let lastDone = 0;
  const send = async (body: string, due: number) => {
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { ...REQUEST_HEADERS, ...headers },
        body,
        signal: AbortSignal.timeout(30_000),
      });
      const text = await response.text();
      lastDone = performance.now();
      latencies.push(lastDone - due);
      if (response.status < 200 || response.status > 299) problems.non2xx += 1;
      else check(text);
    } catch {
      problems.errors += 1;
    }
  };
  const started = performance.now();
  const pending: Promise<void>[] = [];
  let outstanding = 0;
  let skipped = 0;
  for (let i = 0; i < count; i += 1) {
    const due = started + i * intervalMs;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    if (outstanding >= maxOutstanding) {
      skipped += 1;
      continue;
    }
    outstanding += 1;
    pending.push(send(bodies[i % bodies.length] ?? '', due).finally(() => (outstanding -= 1)));
  }
  await Promise.all(pending);
  latencies.sort((a, b) => a - b);
  const spanSeconds = (lastDone - started) / 1000;
  return {
    rate,
    sent: count - skipped,
    skipped,
    completed: latencies.length,
    achievedPerSecond: spanSeconds > 0 ? latencies.length / spanSeconds : 0,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    maxMs: latencies.at(-1) ?? Number.NaN,
    ...problems,
  };
}

/** Sends one request body; returns the status and the body text. */
export async function requestOnce(
  url: string,
  body: string,
): Promise<{ status: number; body: string }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: REQUEST_HEADERS,
    body,
    signal: AbortSignal.timeout(30_000),
  });
  return { status: response.status, body: await response.text() };
}
