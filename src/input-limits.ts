/**
 * Limits of the values an operation passes, checked before anything executes, on both read
 * paths, at any depth, literals and variables alike (`inputLimitError`: `BAD_USER_INPUT` naming
 * the argument and the limit):
 *
 * - the length of the text a read takes: lookups by slug, filter fields, search terms, cursors
 *   and IDs. Each such argument or input field declares its limit (`textLimit`, with a kind of
 *   `TEXT_LIMITS`) beside its description. (The text of mutation inputs is checked by their
 *   write validators instead, which report a `ValidationError`.)
 * - the entries of every list, mutation inputs included: at most `MAX_LIST_ARGUMENT`.
 *
 * (NUL, which PostgreSQL `text` cannot hold, is refused earlier, in variables and literals
 * alike: see `useHttpEdges`.) Lengths are counted in code points (`textLength`), as PostgreSQL counts them.
 */
import {
  type DocumentNode,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputField,
  type GraphQLInputType,
  type GraphQLSchema,
  getArgumentValues,
  getNamedType,
  isInputObjectType,
  isListType,
  isNonNullType,
  type OperationDefinitionNode,
} from 'graphql';
import { MAX_LIST_ARGUMENT } from './cost.js';
import { limitSentence, TEXT_LIMITS, type TextKind, textLength } from './db/limits.js';
import { BadUserInputError } from './errors.js';
import { type ArgumentSite, documentSites } from './plan/arguments.js';

/** The `extensions` key an argument or input field declares its longest text under. */
const MAX_LENGTH = 'chipgateMaxLength';

/**
 * The options that limit an argument or input field to the text of `kind`: its description
 * with the limit stated, and the `extensions` the check reads. Spread into `t.arg.string`,
 * `t.string`, `t.arg.id`, ...
 */
export function textLimit(kind: TextKind, description: string) {
  return { description: describedLimit(kind, description), extensions: limitedTo(kind) };
}

/**
 * The `extensions` alone, for arguments whose limit partners need not read (cursors: pass back
 * what the API gave).
 */
export function limitedTo(kind: TextKind) {
  return { [MAX_LENGTH]: TEXT_LIMITS[kind] };
}

/**
 * A description with the limit of `kind` stated, for input fields a write validator checks
 * (mutation inputs), which declare no `extensions`: the validator answers with field errors.
 */
export const describedLimit = (kind: TextKind, description: string): string =>
  `${description} ${limitSentence(kind)}`;

/** The longest text an argument or input field accepts, when it declares one. */
export function maxLengthOf(input: GraphQLArgument | GraphQLInputField): number | undefined {
  const max = input.extensions?.[MAX_LENGTH];
  return typeof max === 'number' ? max : undefined;
}

/** Whether `type` is a list, or `NonNull` of one. */
const isList = (type: GraphQLInputType) => isListType(isNonNullType(type) ? type.ofType : type);

/** Whether any value under `type` (its fields, at any depth) declares a limit or is a list. */
function limitsUnder(type: GraphQLInputType, seen = new Set<string>()): boolean {
  if (isList(type)) return true;
  const named = getNamedType(type);
  if (!isInputObjectType(named) || seen.has(named.name)) return false;
  seen.add(named.name);
  return Object.values(named.getFields()).some(
    (field) => maxLengthOf(field) !== undefined || limitsUnder(field.type, seen),
  );
}

/** Fields whose arguments declare limits (per field definition, computed once). */
const limitedFields = new WeakMap<GraphQLField<unknown, unknown>, boolean>();

function hasLimits(field: GraphQLField<unknown, unknown>): boolean {
  let limited = limitedFields.get(field);
  if (limited === undefined) {
    limited = field.args.some((arg) => maxLengthOf(arg) !== undefined || limitsUnder(arg.type));
    limitedFields.set(field, limited);
  }
  return limited;
}

/** The fields of each operation of a document whose arguments declare limits, found once. */
const sitesByDocument = new WeakMap<DocumentNode, Map<string, ArgumentSite[]>>();

function sitesOf(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
): ArgumentSite[] {
  let byOperation = sitesByDocument.get(document);
  if (!byOperation) {
    byOperation = new Map();
    sitesByDocument.set(document, byOperation);
  }
  const key = operation.name?.value ?? '';
  let sites = byOperation.get(key);
  if (!sites) {
    sites = documentSites(schema, document, operation).arguments.filter((site) =>
      hasLimits(site.field),
    );
    byOperation.set(key, sites);
  }
  return sites;
}

/** A value over its limit: where, the limit, the length, in what. */
interface OverLimit {
  path: string;
  max: number;
  length: number;
  unit: 'characters' | 'entries';
}

/**
 * The first value in `value` (of `type`) over its limit: a text longer than its limit (in code
 * points), or a list of more than `MAX_LIST_ARGUMENT` entries.
 */
function tooLong(
  type: GraphQLInputType,
  value: unknown,
  max: number | undefined,
  path: string,
): OverLimit | undefined {
  if (value == null) return undefined;
  const inner = isNonNullType(type) ? type.ofType : type;
  if (isListType(inner)) {
    if (!Array.isArray(value)) return tooLong(inner.ofType, value, max, path);
    if (value.length > MAX_LIST_ARGUMENT) {
      return { path, max: MAX_LIST_ARGUMENT, length: value.length, unit: 'entries' };
    }
    for (const [i, item] of value.entries()) {
      const found = tooLong(inner.ofType, item, max, `${path}[${i}]`);
      if (found) return found;
    }
    return undefined;
  }
  if (isInputObjectType(inner)) {
    for (const field of Object.values(inner.getFields())) {
      const found = tooLong(
        field.type,
        (value as Record<string, unknown>)[field.name],
        maxLengthOf(field),
        `${path}.${field.name}`,
      );
      if (found) return found;
    }
    return undefined;
  }
  if (max === undefined || typeof value !== 'string') return undefined;
  const length = textLength(value);
  return length > max ? { path, max, length, unit: 'characters' } : undefined;
}

/**
 * The `BAD_USER_INPUT` error for the first argument value of `operation` (literal or from
 * `variables`, already coerced) over its limit: text longer than its argument or input field
 * declares (in code points), or a list of more than `MAX_LIST_ARGUMENT` entries; undefined when
 * every value fits. Values that do not coerce are left to execution, which reports them as usual.
 */
export function inputLimitError(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown>,
): BadUserInputError | undefined {
  for (const { node, field, parent } of sitesOf(schema, document, operation)) {
    let values: Record<string, unknown>;
    try {
      values = getArgumentValues(field, node, variables);
    } catch {
      continue;
    }
    for (const arg of field.args) {
      const found = tooLong(arg.type, values[arg.name], maxLengthOf(arg), arg.name);
      if (found) {
        const where = `Argument "${found.path}" of ${parent}.${field.name}`;
        return new BadUserInputError(
          found.unit === 'entries'
            ? `${where} must hold at most ${found.max} entries (got ${found.length}).`
            : `${where} must be at most ${found.max} characters (got ${found.length}).`,
          { nodes: node },
        );
      }
    }
  }
  return undefined;
}
