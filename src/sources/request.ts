/**
 * One HTTP request to an upstream, without policy: the headers (User-Agent, validators for a
 * conditional GET), redirects (at most `MAX_REDIRECTS`; to another origin only when the source
 * allows it), the size-capped body, and the answer's status sorted into an `HttpAnswer`, a
 * `RetryableError` (network error, 429, 5xx) or an `UpstreamRefusedError` (other 4xx).
 *
 * Deadlines, retries, the circuit breaker, the rate limit and the cache are the caller's
 * (`Source` in http.ts), which calls `attempt` once per try.
 */

import { TaskCancelledError } from 'cockatiel';
import {
  SourceError,
  type SourceName,
  sourceInvalidResponse,
  sourceUnavailable,
} from '../errors.js';

/** The URL as a span or log may show it: without `user:password@`. */
export function displayUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    return parsed.href;
  } catch {
    return '(invalid URL)';
  }
}

/** Validators of a cached response, sent back for a conditional GET. */
export interface Validators {
  etag?: string;
  lastModified?: string;
}

/**
 * A successful HTTP answer: 200 (or a 404 the caller recognised as the API's own "not found")
 * with its body, or 304.
 */
export interface HttpAnswer {
  status: number;
  /** The body decoded as UTF-8 (JSON APIs). */
  body: string;
  /** The raw body, for formats that declare their own encoding (XML feeds). */
  bytes: Buffer;
  /** The `charset` of the `content-type` header, lower case, when given. */
  charset?: string;
  validators: Validators;
}

/** Options of `Source.get`. */
export interface GetOptions {
  /** Validators of the cached copy, for a conditional GET. */
  validators?: Validators;
  /** Recognises the API's own "not found" body of a 404; without it every 404 is an error. */
  notFound?: (body: string) => boolean;
}

/** An attempt that may succeed when retried (network error, 429, 5xx). */
export class RetryableError extends Error {
  constructor(
    message: string,
    /** Delay the upstream asked for (`Retry-After`), in milliseconds. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'RetryableError';
  }
}

/**
 * The upstream refused the request with a 4xx other than 429 (a bad request, a forbidden
 * User-Agent, a path that does not exist): not retried, and not counted by the circuit breaker,
 * since it says nothing about the upstream's health (a user's bad search filter must not pause
 * the source for everyone). Code `SOURCE_UNAVAILABLE`; `status` and the start of `body` let the
 * caller tell the user what was wrong.
 */
export class UpstreamRefusedError extends SourceError {
  constructor(
    source: SourceName,
    message: string,
    readonly status: number,
    /** The start of the answer's body (at most 4 KiB), e.g. the API's error JSON. */
    readonly body: string,
  ) {
    super('SOURCE_UNAVAILABLE', source, message);
    this.name = 'UpstreamRefusedError';
  }
}

/** Redirects followed at most per attempt. */
const MAX_REDIRECTS = 5;

/** Bytes of a refusal's body kept for the caller's message. */
const REFUSAL_BODY_BYTES = 4_096;

/** The deadline passed before the call was sent (it waited for the rate limiter). */
export class NotSentError extends Error {
  constructor() {
    super('deadline passed before the call was sent');
    this.name = 'NotSentError';
  }
}

/** Parses `Retry-After` (seconds or an HTTP date) into milliseconds from now. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** What one request needs to know about the source that sends it. */
export interface RequestTarget {
  /** The source, as errors name it. */
  name: SourceName;
  /** The upstream as messages name it, e.g. `SEC EDGAR`. */
  label: string;
  /** The `User-Agent` header of the request. */
  userAgent: string;
  /** Whether a redirect to another origin is followed (see `SourcePolicy`). */
  crossOriginRedirects: boolean;
  /** Largest response body accepted, in bytes; larger is `SOURCE_INVALID_RESPONSE`. */
  maxBytes: number;
  /** The call's deadline in milliseconds, as messages name it. */
  timeoutMs: number;
  /** The HTTP client. */
  fetch: typeof fetch;
}

/**
 * One try of GET `url`: resolves with 200, 304 or a 404 that `options.notFound` recognises;
 * throws `RetryableError` (network error, 429, 5xx), `UpstreamRefusedError` (other 4xx, or a
 * redirect not followed), `SOURCE_INVALID_RESPONSE` (body past `maxBytes`), `NotSentError`
 * (`signal` aborted before sending) or cockatiel's `TaskCancelledError` (aborted on the way).
 * `deadline` (epoch milliseconds) decides whether a `Retry-After` can still be honoured.
 */
export async function attempt(
  target: RequestTarget,
  url: string,
  options: GetOptions,
  signal: AbortSignal,
  deadline: number,
): Promise<HttpAnswer> {
  // A call whose deadline passed while it waited for the rate limiter is not sent.
  if (signal.aborted) throw new NotSentError();
  const headers: Record<string, string> = {
    'user-agent': target.userAgent,
    accept:
      'application/json, application/rss+xml, application/atom+xml, text/xml;q=0.9, */*;q=0.5',
  };
  if (options.validators?.etag) headers['if-none-match'] = options.validators.etag;
  if (options.validators?.lastModified) {
    headers['if-modified-since'] = options.validators.lastModified;
  }
  const response = await fetchFollowing(target, url, headers, signal);
  const validators: Validators = {
    ...(response.headers.get('etag') ? { etag: response.headers.get('etag') as string } : {}),
    ...(response.headers.get('last-modified')
      ? { lastModified: response.headers.get('last-modified') as string }
      : {}),
  };
  if (response.status === 304) {
    await response.body?.cancel();
    return { status: 304, body: '', bytes: Buffer.alloc(0), validators };
  }
  if (response.status === 429 || response.status >= 500) {
    await response.body?.cancel();
    const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'));
    if (retryAfterMs !== undefined && Date.now() + retryAfterMs >= deadline) {
      // Waiting as asked would pass the deadline: fail now (a stale value may still serve).
      throw sourceUnavailable(
        target.name,
        `${target.label} answered HTTP ${response.status} and asked to retry after ${Math.ceil(retryAfterMs / 1000)} s, past the ${target.timeoutMs} ms deadline.`,
      );
    }
    throw new RetryableError(`HTTP ${response.status}`, retryAfterMs);
  }
  if (response.status !== 200) {
    const body = (await readCapped(target, response, signal, REFUSAL_BODY_BYTES)).toString('utf8');
    if (response.status === 404 && options.notFound?.(body)) {
      return { status: 404, body, bytes: Buffer.from(body), validators };
    }
    if (response.status === 404) {
      throw new UpstreamRefusedError(
        target.name,
        `${target.label} answered HTTP 404 for ${new URL(url).pathname} with a page that is not its own "not found" answer; is the source's base URL right?`,
        404,
        body,
      );
    }
    throw new UpstreamRefusedError(
      target.name,
      `${target.label} refused the request with HTTP ${response.status}.`,
      response.status,
      body,
    );
  }
  const bytes = await readCapped(target, response, signal);
  const charset = /charset=["']?([\w.:-]+)/i.exec(response.headers.get('content-type') ?? '')?.[1];
  return {
    status: response.status,
    body: bytes.toString('utf8'),
    bytes,
    ...(charset ? { charset: charset.toLowerCase() } : {}),
    validators,
  };
}

/**
 * Fetches `url`, following up to `MAX_REDIRECTS` redirects; to another origin only when the
 * policy says so (`crossOriginRedirects`), else such a redirect is `SOURCE_UNAVAILABLE`
 * naming the host.
 */
async function fetchFollowing(
  target: RequestTarget,
  url: string,
  headers: Record<string, string>,
  signal: AbortSignal,
): Promise<Response> {
  let current = new URL(url);
  for (let hop = 0; ; hop += 1) {
    let response: Response;
    try {
      response = await target.fetch(current, { headers, signal, redirect: 'manual' });
    } catch (error) {
      if (signal.aborted) throw new TaskCancelledError();
      const cause = (error as { cause?: { code?: string } }).cause?.code;
      throw new RetryableError(`network error${cause ? ` (${cause})` : ''}`);
    }
    const location = response.headers.get('location');
    if (response.status < 300 || response.status > 399 || response.status === 304 || !location) {
      return response;
    }
    await response.body?.cancel();
    const next = new URL(location, current);
    if (hop >= MAX_REDIRECTS) {
      throw new UpstreamRefusedError(
        target.name,
        `${target.label} redirected more than ${MAX_REDIRECTS} times.`,
        response.status,
        '',
      );
    }
    if (!target.crossOriginRedirects && next.origin !== current.origin) {
      throw new UpstreamRefusedError(
        target.name,
        `${target.label} redirected to another host (${next.origin}), which chipgate does not follow; check the source's base URL.`,
        response.status,
        '',
      );
    }
    current = next;
  }
}

/**
 * Reads a body, aborting past `maxBytes`; with `keep`, reads only the first `keep` bytes
 * (the start of an error page) and drops the rest.
 */
async function readCapped(
  target: RequestTarget,
  response: Response,
  signal: AbortSignal,
  keep?: number,
): Promise<Buffer> {
  const max = keep ?? target.maxBytes;
  const tooLarge = () =>
    sourceInvalidResponse(target.name, `${target.label} sent more than ${max} bytes.`);
  const declared = Number(response.headers.get('content-length'));
  if (keep === undefined && Number.isFinite(declared) && declared > max) {
    await response.body?.cancel();
    throw tooLarge();
  }
  if (!response.body) return Buffer.alloc(0);
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > max) {
        await reader.cancel();
        if (keep === undefined) throw tooLarge();
        chunks.push(value.subarray(0, value.byteLength - (size - max)));
        break;
      }
      chunks.push(value);
    }
  } catch (error) {
    if (error instanceof SourceError) throw error;
    if (signal.aborted) throw new TaskCancelledError();
    throw new RetryableError(`connection lost while reading (${(error as Error).message})`);
  }
  return Buffer.concat(chunks);
}
