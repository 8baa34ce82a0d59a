/**
 * "Is this error the database being unreachable?", answered in one place for every path that
 * talks to the database (drizzle, `queryRows`, raw statements, the event hub), so error masking
 * can turn any of them into `DATABASE_UNAVAILABLE` (HTTP 503 with `Retry-After`) instead of an
 * `INTERNAL_SERVER_ERROR`.
 */

/** The database did not answer within the deadline (`CHIPGATE_DATABASE_TIMEOUT_MS`). */
export class DatabaseTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`The database did not answer within ${timeoutMs} ms.`);
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
  const seen = new Set<unknown>();
  const pending: unknown[] = [error];
  while (pending.length > 0) {
    const current = pending.pop();
    if (current === null || typeof current !== 'object' || seen.has(current)) continue;
    seen.add(current);
    if (current instanceof DatabaseTimeoutError) return 'timeout';
    const { code, cause, originalError, errors } = current as Record<string, unknown>;
    if (typeof code === 'string' && (CONNECTION_CODES.has(code) || isUnavailableSqlState(code))) {
      return code;
    }
    pending.push(cause, originalError);
    if (Array.isArray(errors)) pending.push(...errors);
  }
  return undefined;
}
