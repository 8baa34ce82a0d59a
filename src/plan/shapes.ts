/**
 * Turning the values a planned statement returns into response values, as graphql-js would
 * complete them: leaves serialized by their scalar or enum type, lists mapped, null checked
 * against non-null types. Anything graphql-js would report as a field error (a null in a
 * non-null position, a value a scalar refuses) makes the shaper give up on the plan for that
 * request (`Unplanned`), and the request is answered by the resolvers instead, which report
 * it exactly as before.
 */
import {
  type GraphQLLeafType,
  type GraphQLOutputType,
  isLeafType,
  isListType,
  isNonNullType,
} from 'graphql';

/** Raised while binding or shaping: this request cannot be answered by its plan. */
export class Unplanned extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'Unplanned';
  }
}

/** Marks an object built by a plan: its type name (for abstract types and `isTypeOf`). */
export const PLANNED = Symbol('chipgate.planned');
/** The parent-row columns a planned object keeps for the fields resolved around the plan. */
export const ROW = Symbol('chipgate.row');

/** A planned object: response keys, and in mixed plans its type and row. */
export interface PlannedObject {
  [key: string]: unknown;
  [PLANNED]?: string;
  [ROW]?: Record<string, unknown>;
}

/** Completes a value (with the request's `bind`) into its response value. */
export type Completion<Bind> = (value: unknown, bind: Bind) => unknown;

/** Completes a value of `type` from its named type's completion `named`. */
export function wrapType<Bind>(type: GraphQLOutputType, named: Completion<Bind>): Completion<Bind> {
  if (isNonNullType(type)) {
    const inner = wrapType(type.ofType, named);
    return (value, bind) => {
      if (value === null || value === undefined) throw new Unplanned('null in a non-null field');
      return inner(value, bind);
    };
  }
  if (isListType(type)) {
    const item = wrapType(type.ofType, named);
    return (value, bind) => {
      if (value === null || value === undefined) return null;
      if (!Array.isArray(value)) throw new Unplanned('a list field got a non-list');
      return value.map((entry) => item(entry, bind));
    };
  }
  return (value, bind) => (value === null || value === undefined ? null : named(value, bind));
}

/** The completion of a leaf type's values: its `serialize`, refusing what it refuses. */
export function leafCompletion<Bind>(type: GraphQLLeafType): Completion<Bind> {
  return (value) => {
    let serialized: unknown;
    try {
      serialized = type.serialize(value);
    } catch {
      throw new Unplanned(`${type.name} refused a value`);
    }
    if (serialized === undefined) throw new Unplanned(`${type.name} refused a value`);
    return serialized;
  };
}

/** Whether `type` (unwrapped) is a scalar or enum. */
export function isLeaf(type: GraphQLOutputType): boolean {
  let named: GraphQLOutputType = type;
  while (isNonNullType(named) || isListType(named)) named = named.ofType;
  return isLeafType(named);
}
