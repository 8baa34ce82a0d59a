/**
 * Load generation with autocannon (in the driver process; the target measures itself) and a
 * single plain request for checking a response.
 */
import autocannon from 'autocannon';
import { REQUEST_BODY, REQUEST_HEADERS } from './workload.js';

/** What one load run observed from the client side. */
export interface LoadResult {
  /** Completed responses. */
  requests: number;
  /** Wall time of the run, in seconds. */
  seconds: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Connection errors and timeouts. */
  errors: number;
  non2xx: number;
}

/** POSTs the benchmark request to `url` with `connections` connections for `seconds`. */
export async function runLoad(
  url: string,
  seconds: number,
  connections: number,
): Promise<LoadResult> {
  const result = await autocannon({
    url,
    method: 'POST',
    headers: { ...REQUEST_HEADERS },
    body: REQUEST_BODY,
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
    errors: result.errors,
    non2xx: result.non2xx,
  };
}

/** Sends the benchmark request once; returns the status and the body text. */
export async function requestOnce(url: string): Promise<{ status: number; body: string }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: REQUEST_HEADERS,
    body: REQUEST_BODY,
    signal: AbortSignal.timeout(30_000),
  });
  return { status: response.status, body: await response.text() };
}
