/**
 * The `Mutation` root and the typed failures every mutation can return: `ValidationError`
 * (with `fieldErrors`), `NotFoundError` and `ConflictError`, all implementing the `Error`
 * interface so clients can select `... on Error { message }` once. Auth failures are not typed
 * results: they are `errors[]` entries with code UNAUTHENTICATED or FORBIDDEN.
 */
import type { ObjectRef } from '@pothos/core';
import { builder, type PothosTypes } from '../builder.js';
import {
  ConflictError,
  type FieldError as FieldErrorShape,
  NotFoundError,
  ValidationError,
} from '../errors.js';

builder.mutationType({
  description:
    'Writes to the curated store. Every mutation needs an API key with the `write` scope ' +
    '(`Authorization: Bearer <key>`): without a key the response carries an UNAUTHENTICATED ' +
    'error, with a key lacking the scope a FORBIDDEN error. Each mutation is one transaction: ' +
    'it returns its success type, or a typed error (`ValidationError`, `NotFoundError`, ' +
    '`ConflictError`) and then has written nothing.',
  authScopes: { write: true },
});

/** The `Error` interface shared by the typed mutation failures. */
export const ErrorInterface = builder.interfaceRef<Error>('Error').implement({
  description:
    'A failure a mutation returns as its result (nothing was written). Select `message` on ' +
    'this interface and the details on the concrete type.',
  fields: (t) => ({
    message: t.exposeString('message', {
      description: 'What went wrong, in a sentence for humans.',
    }),
  }),
});

const FieldError = builder.objectRef<FieldErrorShape>('FieldError').implement({
  description: 'One problem with one input field.',
  fields: (t) => ({
    path: t.exposeStringList('path', {
      description:
        'Where the problem is, from the argument down; list positions are strings: e.g. ' +
        '`["input", "chips", "0", "chip"]` for the first affected chip.',
    }),
    message: t.exposeString('message', { description: 'What is wrong with it.' }),
  }),
});

builder.objectType(ValidationError, {
  name: 'ValidationError',
  description:
    'The input breaks a rule: a malformed slug, an impossible date order, a reference to a ' +
    'chip or company that does not exist, a status transition that is not allowed, ... Every ' +
    'problem found is listed in `fieldErrors`.',
  interfaces: [ErrorInterface],
  fields: (t) => ({
    fieldErrors: t.field({
      type: [FieldError],
      description: 'Each invalid field with its problem; fix them all and retry.',
      resolve: (error) => error.fieldErrors,
    }),
  }),
});

builder.objectType(NotFoundError, {
  name: 'NotFoundError',
  description: 'The object the mutation targets (e.g. the decision `slug`) does not exist.',
  interfaces: [ErrorInterface],
});

builder.objectType(ConflictError, {
  name: 'ConflictError',
  description:
    'The write collides with what exists: the slug is already taken, or the idempotency key ' +
    'was used in the last 24 hours with a different input.',
  interfaces: [ErrorInterface],
});

/**
 * A mutation's result union: its success type or one of the typed errors. Thrown or returned
 * `ValidationError`, `NotFoundError` and `ConflictError` become the matching member; anything
 * else stays an `errors[]` entry (masked when unexpected).
 */
export function mutationResult<Success extends object>(
  name: string,
  success: ObjectRef<PothosSchemaTypes.ExtendDefaultTypes<PothosTypes>, Success>,
  description: string,
) {
  return builder.errorUnion(name, {
    description,
    types: [success, ValidationError, NotFoundError, ConflictError],
    resolveType: () => success.name,
  });
}
