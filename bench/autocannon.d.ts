/** The slice of autocannon's programmatic API the benchmark uses (autocannon ships no types). */
declare module 'autocannon' {
  /** A request as `setupRequest` receives and returns it. */
  export interface RequestParams {
    method?: string;
    path?: string;
    headers?: Record<string, string>;
    body?: string | Buffer;
  }

  /** One entry of `requests`: how each request of a connection is built. */
  export interface RequestDefinition extends RequestParams {
    /** Called before every request; returns the request to send (its body may vary). */
    setupRequest?: (request: RequestParams, context: Record<string, unknown>) => RequestParams;
  }

  /** Options of one run. */
  export interface Options {
    url: string;
    method?: 'GET' | 'POST';
    headers?: Record<string, string>;
    body?: string | Buffer;
    /** Concurrent connections. */
    connections?: number;
    /** Seconds to run. */
    duration?: number;
    /** Seconds before a request times out. */
    timeout?: number;
    pipelining?: number;
    /** Requests each connection sends in turn, instead of `method`/`body` alone. */
    requests?: RequestDefinition[];
    /** Checks each response body; a false result counts as a mismatch. */
    verifyBody?: (body: string) => boolean;
  }

  /** hdr-histogram percentiles (latency in ms, requests and throughput per second). */
  export interface Histogram {
    average: number;
    mean: number;
    stddev: number;
    min: number;
    max: number;
    total: number;
    p50: number;
    p90: number;
    p99: number;
    p99_9: number;
  }

  /** What a finished run reports. */
  export interface Result {
    url: string;
    /** Seconds. */
    duration: number;
    requests: Histogram & { sent: number };
    latency: Histogram & { totalCount: number };
    throughput: Histogram;
    errors: number;
    timeouts: number;
    non2xx: number;
    /** Responses `verifyBody` refused. */
    mismatches: number;
    statusCodeStats: Record<string, { count: number }>;
  }

  /** A running load test; await it for the result. */
  export interface Instance extends PromiseLike<Result> {
    stop(): void;
  }

  /** Starts a run. */
  export default function autocannon(options: Options): Instance;
}
