/**
 * What a client sees of an error (yoga's `maskError`): coded errors as they are, an unreachable
 * database as `DATABASE_UNAVAILABLE`, anything else masked. Apart from `src/errors.ts`, which
 * the database layer throws from, since telling an unreachable database needs `src/db/`.
 */
import { PothosValidationError } from '@pothos/core';
import { GraphQLError } from 'graphql';
import { isDatabaseUnavailable } from './db/availability.js';
import { ErrorCode } from './errors.js';

const MASKED_MESSAGE = 'Unexpected error.';

/** Seconds a client is asked to wait (`Retry-After`) when the database is unavailable. */
export const DATABASE_RETRY_AFTER_SECONDS = 5;

/**
 * The error a client gets when the database is unreachable: `DATABASE_UNAVAILABLE`, HTTP 503,
 * `Retry-After`. Nothing of the driver's error (host names, SQL) is passed on.
 */
export function databaseUnavailable(path?: readonly (string | number)[]): GraphQLError {
  return new GraphQLError(
    `The database is unavailable. Retry in ${DATABASE_RETRY_AFTER_SECONDS} s (a create sent with an idempotencyKey is safe to retry).`,
    {
      ...(path ? { path } : {}),
      extensions: {
        code: ErrorCode.DATABASE_UNAVAILABLE,
        http: { status: 503, headers: { 'Retry-After': String(DATABASE_RETRY_AFTER_SECONDS) } },
      },
    },
  );
}

/** Adds `code` to an error's extensions unless it has one; returns the same error. */
function withCode(error: GraphQLError, code: ErrorCode): GraphQLError {
  if (!error.extensions?.code) {
    (error.extensions as Record<string, unknown>).code = code;
  }
  return error;
}

/**
 * yoga's `maskError`: keeps errors that carry a code, gives Pothos' validation errors (bad
 * cursors, IDs, connection arguments) and errors about the request itself (variable values)
 * the code `BAD_USER_INPUT`, turns any error of an unreachable database (whichever path sent the
 * statement, see `isDatabaseUnavailable`) into `DATABASE_UNAVAILABLE` with HTTP 503 and
 * `Retry-After`, and replaces anything else with a generic message and
 * `INTERNAL_SERVER_ERROR`, so no stack, SQL or internal text leaves the server.
 *
 * Client errors are returned as the same instance (yoga logs only errors it sees replaced, so
 * the log holds unexpected errors, once each).
 */
export function maskError(error: unknown): Error {
  if (isDatabaseUnavailable(error)) {
    return databaseUnavailable(error instanceof GraphQLError ? error.path : undefined);
  }
  if (error instanceof GraphQLError) {
    const original = error.originalError;
    if (error.extensions?.code) return error;
    if (original instanceof GraphQLError && original.extensions?.code) {
      return withCode(error, original.extensions.code as ErrorCode);
    }
    if (original instanceof PothosValidationError) return withCode(error, ErrorCode.BAD_USER_INPUT);
    if (!error.path && (!original || original instanceof GraphQLError)) {
      // Errors graphql-js or yoga raised about the request itself (parse, validation,
      // variable coercion) have no path. They describe the client's input.
      return withCode(error, ErrorCode.BAD_USER_INPUT);
    }
  }
  const path = error instanceof GraphQLError ? error.path : undefined;
  return new GraphQLError(MASKED_MESSAGE, {
    ...(path ? { path } : {}),
    extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR },
  });
}
