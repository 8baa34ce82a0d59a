/**
 * Shapers: turning the values a planned statement returns into the response, as graphql-js
 * would complete them (leaves serialized by their scalar or enum type, lists mapped, null
 * checked against non-null types). The response is then serialized by yoga with the native
 * `JSON.stringify` (measured faster, and lighter on the garbage collector, than writing the JSON
 * text from the values in JavaScript). Anything graphql-js would report as a field error (a null in a non-null position,
 * a value a scalar refuses) makes the shaper give up on the plan for that request
 * (`Unplanned`); the resolvers then answer it and report it exactly as before.
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

/**
 * On a planned object with `@defer` fragments planned apart: its row id and those fragments'
 * plans (opaque here; see `DeferredPlan` in core.ts), read by the resolvers of the derived
 * schema (execute.ts).
 */
export const DEFERRED = Symbol('chipgate.deferred');

/** A planned object: response keys, and in mixed plans its type and row. */
export interface PlannedObject {
  [key: string]: unknown;
  [PLANNED]?: string;
  [ROW]?: Record<string, unknown>;
  [DEFERRED]?: { readonly id: unknown; readonly plans: readonly unknown[] };
}

/** Shapes an input (a statement's JSON value, a row's array) into a response value. */
export interface Shaper<In, Bind> {
  /** The response value. */
  value(input: In, bind: Bind): unknown;
}

/** A shaper built later than its users (its plan is completed after the SQL is composed). */
export function deferred<In, Bind>(get: () => Shaper<In, Bind> | undefined): Shaper<In, Bind> {
  const shaper = () => {
    const found = get();
    if (!found) throw new Error('shaper used before it was planned');
    return found;
  };
  return { value: (input, bind) => shaper().value(input, bind) };
}

/** A shaper over a part of the input (`at` picks it, e.g. a row's slot). */
export function at<In, Part, Bind>(
  pick: (input: In, bind: Bind) => Part,
  shaper: Shaper<Part, Bind>,
): Shaper<In, Bind> {
  return { value: (input, bind) => shaper.value(pick(input, bind), bind) };
}

/** A value computed from the input, already complete (global IDs, cursors, page info). */
export function computedShaper<In, Bind>(
  compute: (input: In, bind: Bind) => unknown,
): Shaper<In, Bind> {
  return { value: compute };
}

/** A constant (`__typename`). */
export function constantShaper<In, Bind>(constant: string): Shaper<In, Bind> {
  return { value: () => constant };
}

/** A leaf type's completion: its `serialize`, refusing what it refuses. */
export function leafShaper<Bind>(type: GraphQLLeafType): Shaper<unknown, Bind> {
  const complete = (value: unknown) => {
    let serialized: unknown;
    try {
      serialized = type.serialize(value);
    } catch {
      throw new Unplanned(`${type.name} refused a value`);
    }
    if (serialized === undefined) throw new Unplanned(`${type.name} refused a value`);
    return serialized;
  };
  return { value: complete };
}

/** Completes a value of `type` (nullable, non-null, lists) from its named type's shaper. */
export function wrapShaper<Bind>(
  type: GraphQLOutputType,
  named: Shaper<unknown, Bind>,
): Shaper<unknown, Bind> {
  if (isNonNullType(type)) {
    const inner = wrapShaper(type.ofType, named);
    const check = (value: unknown) => {
      if (value === null || value === undefined) throw new Unplanned('null in a non-null field');
      return value;
    };
    return { value: (value, bind) => inner.value(check(value), bind) };
  }
  if (isListType(type)) {
    const item = wrapShaper(type.ofType, named);
    const list = (value: unknown) => {
      if (!Array.isArray(value)) throw new Unplanned('a list field got a non-list');
      return value;
    };
    return {
      value: (value, bind) =>
        value === null || value === undefined
          ? null
          : list(value).map((entry) => item.value(entry, bind)),
    };
  }
  return {
    value: (value, bind) =>
      value === null || value === undefined ? null : named.value(value, bind),
  };
}

/**
 * An object with the given fields, in response order. `mark`, for mixed plans, adds what
 * graphql-js needs to resolve around the plan (see `PLANNED`, `ROW`).
 */
export function objectShaper<In, Bind>(
  parts: readonly (readonly [string, Shaper<In, Bind>])[],
  mark?: (object: PlannedObject, input: In, bind: Bind) => void,
): Shaper<In, Bind> {
  return {
    value: (input, bind) => {
      const object: PlannedObject = {};
      for (const [key, part] of parts) object[key] = part.value(input, bind);
      mark?.(object, input, bind);
      return object;
    },
  };
}

/** Whether `type` (unwrapped) is a scalar or enum. */
export function isLeaf(type: GraphQLOutputType): boolean {
  let named: GraphQLOutputType = type;
  while (isNonNullType(named) || isListType(named)) named = named.ofType;
  return isLeafType(named);
}
