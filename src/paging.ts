/**
 * The paging rule every connection shares (roots, related lists, the timeline; the resolvers
 * and the planner alike): page sizes and the Relay arguments that choose them.
 */
import { BadUserInputError } from './errors.js';

/** Page size when a connection is given neither `first` nor `last`. */
export const DEFAULT_PAGE_SIZE = 20;
/** Largest `first`/`last` a connection accepts; larger is a `BAD_USER_INPUT` error. */
export const MAX_PAGE_SIZE = 100;

/** Relay pagination arguments as they reach resolvers. */
export interface ConnectionArgs {
  first?: number | null;
  last?: number | null;
  after?: string | null;
  before?: string | null;
}

/**
 * Checks page sizes against the contract: `first`/`last` non-negative, at most
 * `MAX_PAGE_SIZE`, not both. Throws `BadUserInputError`. Returns the page size.
 */
export function pageSize(args: ConnectionArgs): number {
  const { first, last } = args;
  if (first != null && last != null) {
    throw new BadUserInputError('Pass either "first" or "last", not both.');
  }
  for (const [name, value] of [
    ['first', first],
    ['last', last],
  ] as const) {
    if (value != null && (value < 0 || value > MAX_PAGE_SIZE)) {
      throw new BadUserInputError(
        `Argument "${name}" must be between 0 and ${MAX_PAGE_SIZE}, got ${value}.`,
      );
    }
  }
  return first ?? last ?? DEFAULT_PAGE_SIZE;
}
