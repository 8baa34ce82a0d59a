/**
 * Error codes and the error classes that carry them. Every error a client sees in `errors[]`
 * has `extensions.code`; unexpected errors are masked (see `maskError` in
 * `src/mask-error.ts`). A low layer: the database writers and the sources throw these.
 */
import { GraphQLError, type GraphQLErrorOptions } from 'graphql';

/** The codes clients can rely on in `errors[].extensions.code`. */
export const ErrorCode = {
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  QUERY_TOO_COMPLEX: 'QUERY_TOO_COMPLEX',
  RATE_LIMITED: 'RATE_LIMITED',
  SOURCE_UNAVAILABLE: 'SOURCE_UNAVAILABLE',
  SOURCE_INVALID_RESPONSE: 'SOURCE_INVALID_RESPONSE',
  SOURCE_NOT_CONFIGURED: 'SOURCE_NOT_CONFIGURED',
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
  /** A subscriber fell too far behind its events; its subscription was closed. */
  SLOW_CONSUMER: 'SLOW_CONSUMER',
  /** The HTTP request itself is malformed (body, content type, query-string parameters). */
  BAD_REQUEST: 'BAD_REQUEST',
  /** Kept from yoga: the document does not parse. */
  GRAPHQL_PARSE_FAILED: 'GRAPHQL_PARSE_FAILED',
  /** Kept from yoga: the document does not validate against the schema. */
  GRAPHQL_VALIDATION_FAILED: 'GRAPHQL_VALIDATION_FAILED',
  /** The database is unreachable or did not answer in time (HTTP 503 with `Retry-After`). */
  DATABASE_UNAVAILABLE: 'DATABASE_UNAVAILABLE',
  /** A persisted-only API key sent query text instead of a registered document's id. */
  PERSISTED_QUERY_ONLY: 'PERSISTED_QUERY_ONLY',
  /** The `documentId` is not a trusted document registered for this caller. */
  PERSISTED_QUERY_NOT_IN_LIST: 'PERSISTED_QUERY_NOT_IN_LIST',
  /** Automatic persisted queries: the hash is not known yet; send the query with it. */
  PERSISTED_QUERY_NOT_FOUND: 'PERSISTED_QUERY_NOT_FOUND',
  /** The answer is larger than `CHIPGATE_MAX_RESPONSE_BYTES`; none of it was sent (HTTP 422). */
  RESPONSE_TOO_LARGE: 'RESPONSE_TOO_LARGE',
  /** The `chipgate-consistency-token` request header is not a token a mutation returned (400). */
  BAD_CONSISTENCY_TOKEN: 'BAD_CONSISTENCY_TOKEN',
} as const;

/** One of `ErrorCode`'s values. */
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Input the client sent is wrong: bad pagination arguments, cursor, global ID, date, ... */
export class BadUserInputError extends GraphQLError {
  constructor(message: string, options: Omit<GraphQLErrorOptions, 'extensions'> = {}) {
    super(message, { ...options, extensions: { code: ErrorCode.BAD_USER_INPUT } });
    this.name = 'BadUserInputError';
  }
}

/** The operation asks for more work than one request may (depth, aliases, cost). */
export class QueryTooComplexError extends GraphQLError {
  constructor(message: string, options: Omit<GraphQLErrorOptions, 'extensions'> = {}) {
    super(message, { ...options, extensions: { code: ErrorCode.QUERY_TOO_COMPLEX } });
    this.name = 'QueryTooComplexError';
  }
}

/**
 * A subscriber did not read its events fast enough: more were waiting than its queue holds
 * (`CHIPGATE_SUBSCRIPTION_QUEUE_MAX`). The subscription ends after this error; the client may
 * resubscribe with `after:` its last `eventCursor` and get what it missed from the store.
 */
export class SlowConsumerError extends GraphQLError {
  constructor(message: string) {
    super(message, { extensions: { code: ErrorCode.SLOW_CONSUMER } });
    this.name = 'SlowConsumerError';
  }
}

/**
 * The request presented no API key where one is needed, or a key that is malformed, unknown or
 * revoked. HTTP status 401 when it stops the whole request.
 */
export class UnauthenticatedError extends GraphQLError {
  constructor(message: string, options: Omit<GraphQLErrorOptions, 'extensions'> = {}) {
    super(message, {
      ...options,
      extensions: { code: ErrorCode.UNAUTHENTICATED, http: { status: 401 } },
    });
    this.name = 'UnauthenticatedError';
  }
}

/**
 * A persisted-only API key sent a query text, or holds a subscription that is not a registered
 * trusted document when the key becomes persisted-only. HTTP status 403 when it stops a request.
 */
export class PersistedQueryOnlyError extends GraphQLError {
  constructor() {
    super(
      'This API key may run registered trusted documents only: send {"documentId": "<sha256>", "variables": {...}} instead of a query text.',
      { extensions: { code: ErrorCode.PERSISTED_QUERY_ONLY, http: { status: 403 } } },
    );
    this.name = 'PersistedQueryOnlyError';
  }
}

/** The API key is valid but lacks the scope the field needs (e.g. `write` for mutations). */
export class ForbiddenError extends GraphQLError {
  constructor(message: string, options: Omit<GraphQLErrorOptions, 'extensions'> = {}) {
    super(message, { ...options, extensions: { code: ErrorCode.FORBIDDEN } });
    this.name = 'ForbiddenError';
  }
}

/** Which per-minute or concurrent limit refused a request. */
export type RateLimitReason = 'REQUESTS' | 'COST' | 'SUBSCRIPTIONS';

/** The numbers of a limit, as `extensions.rateLimit` shows them. */
export interface RateLimitInfo {
  /** The limit: requests or cost per minute, or concurrent subscriptions. */
  limit: number;
  /** What is left of it now (0 when refused). */
  remaining: number;
  /** When the budget is whole again (ISO 8601), or null for subscriptions (when one closes). */
  resetAt: string | null;
  reason: RateLimitReason;
}

/**
 * The caller is over one of its limits (`extensions.rateLimit` says which). HTTP 429 with
 * `Retry-After` (whole seconds until `resetAt`); nothing of the operation ran.
 */
export class RateLimitedError extends GraphQLError {
  readonly rateLimit: RateLimitInfo;
  constructor(message: string, rateLimit: RateLimitInfo, retryAfterSeconds: number) {
    super(message, {
      extensions: {
        code: ErrorCode.RATE_LIMITED,
        rateLimit,
        http: { status: 429, headers: { 'retry-after': String(retryAfterSeconds) } },
      },
    });
    this.name = 'RateLimitedError';
    this.rateLimit = rateLimit;
  }
}

/** One invalid input field: `path` from the argument down (e.g. `["input", "chips", "0", "chip"]`). */
export interface FieldError {
  path: string[];
  message: string;
}

/**
 * A mutation's input breaks a rule (format, date order, a reference that does not exist, a
 * status transition the table refuses). Returned as the typed result `ValidationError`, not in
 * `errors[]`; nothing was written.
 */
export class ValidationError extends Error {
  readonly fieldErrors: FieldError[];
  constructor(fieldErrors: FieldError[], message?: string) {
    super(
      message ??
        (fieldErrors.length === 1
          ? `Invalid input: ${fieldErrors[0]?.message}`
          : `Invalid input: ${fieldErrors.length} problems, see fieldErrors.`),
    );
    this.name = 'ValidationError';
    this.fieldErrors = fieldErrors;
  }
}

/** The object a mutation targets does not exist (typed result `NotFoundError`). */
export class NotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotFoundError';
  }
}

/**
 * The write collides with existing state: a slug already taken, or an idempotency key reused
 * with a different input (typed result `ConflictError`).
 */
export class ConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConflictError';
  }
}

/**
 * Collects field problems of one input, then throws them together as one `ValidationError`,
 * so a client fixes every field in one round trip.
 */
export class FieldIssues {
  readonly errors: FieldError[] = [];
  /** Records a problem at `path` (numbers are list positions). */
  add(path: (string | number)[], message: string): void {
    this.errors.push({ path: path.map(String), message });
  }
  /** Throws a `ValidationError` when any problem was recorded. */
  throwIfAny(): void {
    if (this.errors.length > 0) throw new ValidationError(this.errors);
  }
}

/** The external sources, as named in `extensions.source` and `SourceInfo.source`. */
export type SourceName = 'federal-register' | 'sec-edgar' | 'news';

type SourceErrorCode =
  | typeof ErrorCode.SOURCE_UNAVAILABLE
  | typeof ErrorCode.SOURCE_INVALID_RESPONSE
  | typeof ErrorCode.SOURCE_NOT_CONFIGURED;

/**
 * An external source could not give a field its value. Carries `extensions.code` (one of the
 * `SOURCE_*` codes) and `extensions.source` (the source's name), so `maskError` passes it to the
 * client as it is; the field is null and the rest of the response is intact.
 */
export class SourceError extends GraphQLError {
  readonly sourceName: SourceName;
  readonly code: SourceErrorCode;
  constructor(code: SourceErrorCode, source: SourceName, message: string) {
    super(message, { extensions: { code, source } });
    this.name = 'SourceError';
    this.sourceName = source;
    this.code = code;
  }
}

/** The source timed out, failed (network, 429, 5xx) or has its circuit breaker open. */
export const sourceUnavailable = (source: SourceName, message: string) =>
  new SourceError(ErrorCode.SOURCE_UNAVAILABLE, source, message);
/** The source answered something we refuse: not the documented format, or too large. */
export const sourceInvalidResponse = (source: SourceName, message: string) =>
  new SourceError(ErrorCode.SOURCE_INVALID_RESPONSE, source, message);
/** The operator turned the source off (e.g. no SEC User-Agent, no news feeds). */
export const sourceNotConfigured = (source: SourceName, message: string) =>
  new SourceError(ErrorCode.SOURCE_NOT_CONFIGURED, source, message);
