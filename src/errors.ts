/**
 * Error codes and the error classes that carry them. Every error a client sees in `errors[]`
 * has `extensions.code`; unexpected errors are masked (see `maskError`).
 */
import { PothosValidationError } from '@pothos/core';
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
  /** The HTTP request itself is malformed (body, content type, query-string parameters). */
  BAD_REQUEST: 'BAD_REQUEST',
  /** Kept from yoga: the document does not parse. */
  GRAPHQL_PARSE_FAILED: 'GRAPHQL_PARSE_FAILED',
  /** Kept from yoga: the document does not validate against the schema. */
  GRAPHQL_VALIDATION_FAILED: 'GRAPHQL_VALIDATION_FAILED',
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

const MASKED_MESSAGE = 'Unexpected error.';

/**
 * yoga's `maskError`: keeps errors that already carry a code, turns Pothos' validation errors
 * (bad cursors, bad global IDs, bad connection arguments) into `BAD_USER_INPUT`, and replaces
 * anything else with a generic message and `INTERNAL_SERVER_ERROR`, so no stack, SQL or
 * internal text leaves the server. `onMasked` receives the original (for logging).
 */
export function createMaskError(onMasked: (error: unknown) => void = () => {}) {
  return (error: unknown): Error => {
    if (error instanceof GraphQLError) {
      const original = error.originalError;
      if (original instanceof GraphQLError && original.extensions?.code) {
        return new GraphQLError(original.message, {
          ...(error.nodes ? { nodes: error.nodes } : {}),
          ...(error.path ? { path: error.path } : {}),
          extensions: original.extensions,
        });
      }
      if (original instanceof PothosValidationError) {
        return new GraphQLError(original.message, {
          ...(error.nodes ? { nodes: error.nodes } : {}),
          ...(error.path ? { path: error.path } : {}),
          extensions: { code: ErrorCode.BAD_USER_INPUT },
        });
      }
      if (!error.path && (!original || original instanceof GraphQLError)) {
        // Errors graphql-js or yoga raised about the request itself (parse, validation,
        // variable coercion) have no path. They describe the client's input, so they are
        // kept; those without a code are about input values.
        if (error.extensions?.code) return error;
        return new GraphQLError(error.message, {
          ...(error.nodes ? { nodes: error.nodes } : {}),
          ...(error.path ? { path: error.path } : {}),
          extensions: { ...error.extensions, code: ErrorCode.BAD_USER_INPUT },
        });
      }
    }
    onMasked(error);
    const path = error instanceof GraphQLError ? error.path : undefined;
    return new GraphQLError(MASKED_MESSAGE, {
      ...(path ? { path } : {}),
      extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR },
    });
  };
}
