/**
 * "Is this error the database being unreachable?", answered in one place for every path that
 * talks to the database (drizzle, `queryRows`, raw statements, the event hub), so error masking
 * can turn any of them into `DATABASE_UNAVAILABLE` (HTTP 503 with `Retry-After`) instead of an
 * `INTERNAL_SERVER_ERROR`.
 */

/** The database did not answer within the deadline (`CHIPGATE_DATABASE_TIMEOUT_MS`). */
export class DatabaseTimeoutError extends Error {
  /** `cause`: the server's own error, when it was the server that gave up (a write's timeout). */
  constructor(
    readonly timeoutMs: number,
    options?: ErrorOptions,
  ) {
    super(`The database did not answer within ${timeoutMs} ms.`, options);
    this.name = 'DatabaseTimeoutError';
  }
}

/**
 * Error codes of a connection that could not be made or was lost: the socket's (`ECONNREFUSED`,
 * ...) and postgres.js' own (`CONNECTION_CLOSED`, ...).
 */
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
]);

/**
 * SQLSTATEs of a server that is going away or not accepting work: class 08 (connection
 * exception), `57P01` admin shutdown, `57P02` crash shutdown, `57P03` cannot connect now
 * (starting up or in recovery), `53300` too many connections.
 */
function isUnavailableSqlState(code: string): boolean {
  return code.startsWith('08') || ['57P01', '57P02', '57P03', '53300'].includes(code);
}

/**
 * The first non-undefined answer of `visit` for `error` or any error it wraps (`cause`,
 * GraphQL's `originalError`, an `AggregateError`'s members), depth first.
 */
function findInChain<T>(error: unknown, visit: (current: object) => T | undefined): T | undefined {
  const seen = new Set<unknown>();
  const pending: unknown[] = [error];
  while (pending.length > 0) {
    const current = pending.pop();
    if (current === null || typeof current !== 'object' || seen.has(current)) continue;
    seen.add(current);
    const found = visit(current);
    if (found !== undefined) return found;
    const { cause, originalError, errors } = current as Record<string, unknown>;
    pending.push(cause, originalError);
    if (Array.isArray(errors)) pending.push(...errors);
  }
  return undefined;
}

/** True when `error` or any error it wraps carries one of `codes` (SQLSTATEs such as `57014`). */
export function hasSqlState(error: unknown, codes: ReadonlySet<string>): boolean {
  return (
    findInChain(error, (current) => {
      const { code } = current as { code?: unknown };
      return typeof code === 'string' && codes.has(code) ? true : undefined;
    }) ?? false
  );
}

/**
 * True when `error`, or any error it wraps (`cause`, GraphQL's `originalError`, an
 * `AggregateError`'s members), says the database is unreachable, shutting down or did not
 * answer in time. Constraint violations, syntax errors and the like are not: they are bugs or
 * bad input, and stay what they are.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  return databaseErrorReason(error) !== undefined;
}

/**
 * Why the database counts as unavailable: the connection error code or SQLSTATE found in `error`
 * or what it wraps (e.g. `ECONNREFUSED`, `57P01`, `timeout`), never a statement or its
 * parameters; undefined when it is another kind of error.
 */
export function databaseErrorReason(error: unknown): string | undefined {
  return findInChain(error, (current) => {
    if (current instanceof DatabaseTimeoutError) return 'timeout';
    const { code } = current as { code?: unknown };
    return typeof code === 'string' && (CONNECTION_CODES.has(code) || isUnavailableSqlState(code))
      ? code
      : undefined;
  });
}
