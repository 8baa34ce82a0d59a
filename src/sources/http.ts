/**
 * The source toolkit every upstream uses: one long-lived `Source` per upstream holds its circuit
 * breaker, rate limiter and cache, and every call goes through the same path:
 *
 *   cache (fresh: answer) -> deadline [ retry [ breaker [ rate limit [ fetch, size cap ] ] ] ]
 *   -> zod-validated value -> cache; on failure a stale cached value when there is one.
 *
 * - Deadline: one per call (`timeoutMs`), covering the rate-limit wait, every attempt and every
 *   backoff; past it the call fails with `SOURCE_UNAVAILABLE` and the request goes on.
 * - Retries (cockatiel): network errors, 429 and 5xx, exponential backoff with jitter; a
 *   `Retry-After` is honoured, and one that points past the deadline fails the call at once.
 * - Circuit breaker (cockatiel `ConsecutiveBreaker`): opens after `breakerThreshold` failed
 *   attempts in a row, lets one call through after `breakerCooldownMs` (half-open).
 * - Rate limit (bottleneck): at most `ratePerSecond` calls start per second, per source.
 * - Size cap: the body is streamed and the call aborted past `maxBytes`. One try (headers,
 *   redirects, size cap, status -> answer or error) is `attempt` in request.ts.
 * - Cache (lru-cache's `fetchMethod`): TTL per source; concurrent calls for one key share one
 *   load; an expired value is kept and served, marked stale, when its reload fails
 *   (`allowStaleOnFetchRejection`).
 *
 * What differs between upstreams is passed in, never decided here: the label used in messages,
 * whether redirects may leave the origin, the `fetch` to call, a clock, a logger and an
 * observer (metrics). Each call is one span (`GET <source>`) when tracing is on.
 */

import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import Bottleneck from 'bottleneck';
import {
  BrokenCircuitError,
  ConsecutiveBreaker,
  circuitBreaker,
  ExponentialBackoff,
  handleWhen,
  type IBackoff,
  type IBackoffFactory,
  type IRetryBackoffContext,
  retry,
  TaskCancelledError,
  TimeoutStrategy,
  timeout,
  wrap,
} from 'cockatiel';
import { LRUCache } from 'lru-cache';
import type { z } from 'zod';
import { type BreakerState, breakerStateName } from '../breaker.js';
import {
  SourceError,
  type SourceName,
  sourceInvalidResponse,
  sourceUnavailable,
} from '../errors.js';
import type { LogCalls } from '../log-calls.js';
import {
  attempt,
  displayUrl,
  type GetOptions,
  type HttpAnswer,
  NotSentError,
  type RequestTarget,
  RetryableError,
  UpstreamRefusedError,
  type Validators,
} from './request.js';

/** Settings of one source (see `sourcesConfigOf` in env.ts for where they come from). */
export interface SourceSettings {
  /** Deadline of one call including retries, in milliseconds. */
  timeoutMs: number;
  /** Retries after the first attempt (network errors, 429, 5xx). */
  retries: number;
  /** Largest response body accepted, in bytes; larger is `SOURCE_INVALID_RESPONSE`. */
  maxBytes: number;
  /** Failed attempts in a row that open the circuit breaker. */
  breakerThreshold: number;
  /** How long the breaker stays open before letting one call through, in milliseconds. */
  breakerCooldownMs: number;
  /** How long a cached value is fresh, in milliseconds; 0: nothing is cached. */
  ttlMs: number;
  /** Calls started per second at most (client-side rate limit). */
  ratePerSecond: number;
}

/** The logger calls a source makes (pino satisfies it). */
export type SourceLogger = Pick<LogCalls, 'info' | 'warn'>;

const silent: SourceLogger = { info() {}, warn() {} };

/** What a source reports as it works (the metrics module implements it). */
export interface SourceObserver {
  /** One call finished, after its retries: `ok`, or the code of the error; `seconds` in total. */
  called(source: SourceName, outcome: string, seconds: number): void;
  /** An attempt failed and is tried again. */
  retried(source: SourceName): void;
  /** An expired cached value was served because the upstream failed. */
  servedStale(source: SourceName): void;
  /** The circuit breaker changed state. */
  breakerChanged(source: SourceName, state: BreakerState): void;
}

/** How one upstream is called: what differs between sources, given by each source's module. */
export interface SourcePolicy {
  /** The upstream as messages name it, e.g. `SEC EDGAR`. */
  label: string;
  /**
   * Whether a redirect to another origin is followed. Feeds move between hosts; APIs follow
   * only redirects on their own origin, so the headers they send (the SEC's contact User-Agent)
   * never reach another host.
   */
  crossOriginRedirects: boolean;
}

/** Everything a `Source` needs besides its settings. */
export interface SourceOptions extends SourcePolicy {
  /** The `User-Agent` header of every call. */
  userAgent: string;
  /** The HTTP client (default: the global `fetch`). */
  fetch?: typeof fetch;
  /** Monotonic milliseconds for cache expiry (default `performance.now`); tests advance one. */
  clock?: { now(): number };
  /** Hears of failed calls, stale answers and the breaker opening and closing. */
  logger?: SourceLogger;
  observer?: SourceObserver;
}

/** Where a value came from: the source, when it was fetched, and whether it is past its TTL. */
export interface SourceInfo {
  source: SourceName;
  /** When the upstream last answered for this value (a 304 counts as an answer). */
  fetchedAt: Date;
  /** True when the value is past its TTL and served because the upstream failed. */
  stale: boolean;
}

/** A value with its provenance. */
export interface Sourced<T> {
  value: T;
  info: SourceInfo;
}

interface CacheEntry {
  value: unknown;
  fetchedAt: Date;
  /** `clock.now()` when it was fetched, to tell a stale entry served after a failure. */
  fetchedAtMs: number;
  validators: Validators;
}

/** What `cached` gives the cache's `fetchMethod`: how to load the key. */
type CacheLoad = (
  validators: Validators | undefined,
) => Promise<{ value: unknown; validators?: Validators } | 'not-modified'>;

type RetryContext = IRetryBackoffContext<unknown>;

const jittered = new ExponentialBackoff({ initialDelay: 50, maxDelay: 1_000 });

/** Exponential backoff with jitter, or the upstream's `Retry-After` when it sent one. */
const backoffAfter = (previous?: IBackoff<RetryContext>): IBackoffFactory<RetryContext> => ({
  next(context) {
    const exponential = (previous ?? jittered).next(context);
    const error = 'error' in context.result ? context.result.error : undefined;
    const asked = error instanceof RetryableError ? error.retryAfterMs : undefined;
    return { duration: asked ?? exponential.duration, next: backoffAfter(exponential).next };
  },
});

/** The HTTP toolkit and cache of one upstream; long-lived, shared by every request. */
export class Source {
  readonly name: SourceName;
  readonly settings: SourceSettings;
  private readonly options: SourceOptions;
  private readonly cache: LRUCache<string, CacheEntry, CacheLoad>;
  private readonly limiter: Bottleneck;
  private readonly breaker;
  private readonly retry;
  private readonly logger: SourceLogger;
  private readonly clock: { now(): number };
  /** What each attempt needs to know about this source (see request.ts). */
  private readonly target: RequestTarget;
  /** The last failed load per key (see `fetchMethod`). */
  private readonly failures = new Map<string, unknown>();

  constructor(name: SourceName, settings: SourceSettings, options: SourceOptions) {
    this.name = name;
    this.settings = settings;
    this.options = options;
    this.logger = options.logger ?? silent;
    this.clock = options.clock ?? performance;
    this.target = {
      name,
      label: options.label,
      userAgent: options.userAgent,
      crossOriginRedirects: options.crossOriginRedirects,
      maxBytes: settings.maxBytes,
      timeoutMs: settings.timeoutMs,
      fetch: options.fetch ?? ((input, init) => fetch(input, init)),
    };
    this.cache = new LRUCache<string, CacheEntry, CacheLoad>({
      max: 5_000,
      // lru-cache reads ttl 0 as "forever"; 0 here means "no cache" (see `cached`).
      ttl: Math.max(settings.ttlMs, 1),
      // Expired entries stay until evicted by size, to be served stale when the upstream fails.
      allowStale: false,
      noDeleteOnStaleGet: true,
      ttlAutopurge: false,
      allowStaleOnFetchRejection: settings.ttlMs > 0,
      perf: this.clock,
      ttlResolution: 0,
      fetchMethod: async (key, expired, { context: load }) => {
        let loaded: Awaited<ReturnType<CacheLoad>>;
        try {
          loaded = await load(expired?.validators);
        } catch (error) {
          // lru-cache answers a failed load with no stale value as `undefined`, to every caller
          // sharing it; they rethrow the failure kept here.
          this.failures.set(key, error);
          throw error;
        }
        this.failures.delete(key);
        const fetchedAt = new Date();
        const fetchedAtMs = this.clock.now();
        if (loaded !== 'not-modified') {
          return {
            value: loaded.value,
            fetchedAt,
            fetchedAtMs,
            validators: loaded.validators ?? {},
          };
        }
        if (!expired) {
          throw sourceInvalidResponse(
            this.name,
            `${this.label} answered 304 to an unconditional request.`,
          );
        }
        return { ...expired, fetchedAt, fetchedAtMs };
      },
    });
    this.limiter = new Bottleneck({ minTime: Math.ceil(1000 / settings.ratePerSecond) });
    this.breaker = circuitBreaker(
      // Upstream failures open the breaker; a refused payload, a 4xx refusal of the request or
      // a deadline that passed while the call waited for the rate limiter says nothing about the
      // upstream's health.
      handleWhen(
        (error) =>
          !(error instanceof NotSentError) &&
          !(error instanceof UpstreamRefusedError) &&
          !(error instanceof SourceError && error.code !== 'SOURCE_UNAVAILABLE'),
      ),
      {
        halfOpenAfter: settings.breakerCooldownMs,
        breaker: new ConsecutiveBreaker(settings.breakerThreshold),
      },
    );
    this.breaker.onBreak(() =>
      this.logger.warn(
        { source: name, cooldownMs: settings.breakerCooldownMs },
        'source failing: circuit breaker open',
      ),
    );
    this.breaker.onReset(() =>
      this.logger.info({ source: name }, 'source recovered: circuit breaker closed'),
    );
    this.breaker.onStateChange(() => options.observer?.breakerChanged(name, this.breakerState));
    this.retry = retry(
      handleWhen((error) => error instanceof RetryableError),
      { maxAttempts: settings.retries, backoff: backoffAfter() },
    );
    this.retry.onRetry(() => options.observer?.retried(name));
    options.observer?.breakerChanged(name, 'closed');
  }

  /** Circuit breaker state, for tests and logs: `closed`, `open`, `half-open` or `isolated`. */
  get breakerState(): BreakerState {
    return breakerStateName(this.breaker.state);
  }

  /** Forgets every cached value (the benchmark's cold runs). */
  clearCache(): void {
    this.cache.clear();
  }

  /**
   * GET `url` under the deadline, retries, breaker, rate limit and size cap. Resolves with
   * 200 or 304 answers, and with a 404 whose body `notFound` recognises as the API's own
   * "not found" (any other 404, e.g. an HTML page from a wrong base URL, is an error and so is
   * never cached as "no data"). Throws `SourceError` otherwise: `UpstreamRefusedError` for a
   * 4xx other than 429.
   */
  async get(url: string, options: GetOptions = {}): Promise<HttpAnswer> {
    const started = performance.now();
    const tracer = trace.getTracer('chipgate');
    return tracer.startActiveSpan(
      `GET ${this.name}`,
      {
        kind: SpanKind.CLIENT,
        attributes: { 'chipgate.source': this.name, 'url.full': displayUrl(url) },
      },
      async (span) => {
        let attempts = 0;
        const deadline = Date.now() + this.settings.timeoutMs;
        const policy = wrap(
          timeout(this.settings.timeoutMs, TimeoutStrategy.Aggressive),
          this.retry,
        );
        try {
          const answer = await policy.execute(({ signal }) =>
            this.breaker.execute(() =>
              this.limiter.schedule(() => {
                attempts += 1;
                return attempt(this.target, url, options, signal, deadline);
              }),
            ),
          );
          span.setAttribute('http.response.status_code', answer.status);
          this.options.observer?.called(this.name, 'ok', (performance.now() - started) / 1000);
          return answer;
        } catch (error) {
          const failure = this.asSourceError(error);
          if (failure instanceof UpstreamRefusedError) {
            span.setAttribute('http.response.status_code', failure.status);
          }
          span.setStatus({ code: SpanStatusCode.ERROR, message: failure.code });
          this.options.observer?.called(
            this.name,
            failure.code,
            (performance.now() - started) / 1000,
          );
          this.logger.warn(
            { source: this.name, code: failure.code, url: displayUrl(url) },
            failure.message,
          );
          throw failure;
        } finally {
          span.setAttribute('chipgate.source.retries', Math.max(0, attempts - 1));
          span.end();
        }
      },
    );
  }

  private asSourceError(error: unknown): SourceError {
    if (error instanceof SourceError) return error;
    if (error instanceof TaskCancelledError || error instanceof NotSentError) {
      return sourceUnavailable(
        this.name,
        `${this.label} did not answer within ${this.settings.timeoutMs} ms.`,
      );
    }
    if (error instanceof BrokenCircuitError) {
      return sourceUnavailable(
        this.name,
        `${this.label} is failing; calls are paused for up to ${this.settings.breakerCooldownMs} ms (circuit breaker open).`,
      );
    }
    return sourceUnavailable(
      this.name,
      `${this.label} is unavailable: ${(error as Error).message ?? String(error)}.`,
    );
  }

  private get label(): string {
    return this.options.label;
  }

  /** Parses JSON and validates it with `schema`; throws `SOURCE_INVALID_RESPONSE` otherwise. */
  parseJson<S extends z.ZodType>(body: string, schema: S, what: string): z.infer<S> {
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch {
      throw sourceInvalidResponse(this.name, `${this.label} sent malformed JSON for ${what}.`);
    }
    return this.validate(json, schema, what);
  }

  /** Validates a parsed payload with `schema`; throws `SOURCE_INVALID_RESPONSE` otherwise. */
  validate<S extends z.ZodType>(payload: unknown, schema: S, what: string): z.infer<S> {
    const parsed = schema.safeParse(payload);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue?.path.length ? ` at ${issue.path.join('.')}` : '';
      throw sourceInvalidResponse(
        this.name,
        `${this.label} sent ${what} in an unexpected format${where}: ${issue?.message ?? 'invalid'}.`,
      );
    }
    return parsed.data;
  }

  /**
   * A cached value for `key`, fetched with `load` when missing or expired. `load` gets the
   * expired entry's validators (for a conditional GET) and returns a fresh value, or
   * `'not-modified'` to keep the cached one (which is then fresh again). When `load` fails and
   * an expired value exists, that value is returned marked stale. Concurrent calls for one key
   * share one `load`.
   */
  async cached<T>(
    key: string,
    load: (
      validators: Validators | undefined,
    ) => Promise<{ value: T; validators?: Validators } | 'not-modified'>,
  ): Promise<Sourced<T>> {
    const entry = await this.cache.fetch(key, { context: load as CacheLoad });
    if (this.settings.ttlMs === 0) this.cache.delete(key);
    if (!entry) {
      throw this.failures.get(key) ?? sourceUnavailable(this.name, `${this.label} gave no value.`);
    }
    const stale =
      this.settings.ttlMs > 0 && this.clock.now() - entry.fetchedAtMs >= this.settings.ttlMs;
    if (stale) {
      this.logger.warn({ source: this.name, key }, 'serving a stale value: the upstream failed');
      this.options.observer?.servedStale(this.name);
    }
    return { value: entry.value as T, info: this.info(entry.fetchedAt, stale) };
  }

  /**
   * Cached values for many keys; the keys that are missing or expired are fetched together by
   * one `loadMany` (for upstreams that batch), which maps each key to its value, null (the
   * upstream has none) or the error of the call that should have brought it. Returns one result
   * per key, in key order: the value, a stale value when its load failed, or the error.
   */
  async cachedMany<T>(
    keys: readonly string[],
    loadMany: (keys: string[]) => Promise<Map<string, T | null | Error>>,
    cacheKey: (key: string) => string,
  ): Promise<(Sourced<T | null> | Error)[]> {
    const results: (Sourced<T | null> | Error)[] = new Array(keys.length);
    const missing: string[] = [];
    keys.forEach((key, i) => {
      const fresh = this.fresh<T | null>(cacheKey(key));
      if (fresh) results[i] = fresh;
      else missing.push(key);
    });
    if (missing.length === 0) return results;
    let loaded: Map<string, T | null | Error>;
    try {
      loaded = await loadMany(missing);
    } catch (error) {
      loaded = new Map(missing.map((key) => [key, error as Error]));
    }
    const fetchedAt = new Date();
    const fetchedAtMs = this.clock.now();
    keys.forEach((key, i) => {
      if (results[i]) return;
      const value = loaded.get(key) ?? null;
      if (!(value instanceof Error)) {
        this.remember(cacheKey(key), { value, fetchedAt, fetchedAtMs, validators: {} });
        results[i] = { value, info: this.info(fetchedAt, false) };
        return;
      }
      const expired = this.cache.get(cacheKey(key), { allowStale: true });
      if (expired) this.options.observer?.servedStale(this.name);
      results[i] = expired
        ? { value: expired.value as T | null, info: this.info(expired.fetchedAt, true) }
        : value;
    });
    return results;
  }

  private remember(key: string, entry: CacheEntry): void {
    if (this.settings.ttlMs > 0) this.cache.set(key, entry);
  }

  private fresh<T>(key: string): Sourced<T> | undefined {
    const status: LRUCache.Status<string, CacheEntry, CacheLoad> = {};
    const entry = this.cache.get(key, { status });
    if (!entry || status.get !== 'hit') return undefined;
    return { value: entry.value as T, info: this.info(entry.fetchedAt, false) };
  }

  private info(fetchedAt: Date, stale: boolean): SourceInfo {
    return { source: this.name, fetchedAt, stale };
  }

  /** Stops the rate limiter's timers. */
  async close(): Promise<void> {
    await this.limiter.stop({ dropWaitingJobs: true }).catch(() => {});
  }
}
