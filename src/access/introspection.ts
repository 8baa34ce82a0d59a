/**
 * What a caller learns about the schema, by `CHIPGATE_INTROSPECTION` (`on`: everyone, `keys`:
 * callers with an API key, `off`: nobody). A caller who may not introspect gets:
 *
 * - no `__schema` or `__type` (graphql-js' NoSchemaIntrospectionCustomRule);
 * - validation errors without schema details: an error of a rule that reads the schema (unknown
 *   or misspelt fields, arguments, types, directives; missing required arguments; values of the
 *   wrong type) keeps its code and locations but not its text, which would name fields, types
 *   and arguments ("Did you mean" hints included). Errors that only restate the document (syntax
 *   errors, duplicate or unused operations, fragments and variables) keep their text, and so do
 *   the operation limits (`QUERY_TOO_COMPLEX`);
 * - variable values refused without the input type's fields: `Variable "$f" got invalid value
 *   {...}` without what the input object expected. A value of a scalar or enum type keeps the
 *   reason (the caller declared that type itself), without hints.
 *
 * Who the caller is comes from authentication, never from a header being present: an HTTP
 * request's admitted viewer, a WebSocket operation's built context.
 */
import {
  ExecutableDefinitionsRule,
  type ExecutionArgs,
  type ExecutionResult,
  GraphQLError,
  type GraphQLSchema,
  isInputObjectType,
  Kind,
  KnownFragmentNamesRule,
  LoneAnonymousOperationRule,
  NoFragmentCyclesRule,
  NoSchemaIntrospectionCustomRule,
  NoUndefinedVariablesRule,
  NoUnusedFragmentsRule,
  NoUnusedVariablesRule,
  SingleFieldSubscriptionsRule,
  type TypeNode,
  UniqueArgumentNamesRule,
  UniqueFragmentNamesRule,
  UniqueInputFieldNamesRule,
  UniqueOperationNamesRule,
  UniqueVariableNamesRule,
  type ValidationRule,
  validate,
} from 'graphql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import { QueryTooComplexError } from '../errors.js';
import type { Access } from './index.js';
import { viewerOf } from './plugin.js';

/** Whether the caller of a validation or execution may see the schema. */
export function mayIntrospect(access: Access, context: Record<string, unknown>): boolean {
  const mode = access.config.introspection;
  if (mode !== 'keys') return mode === 'on';
  return viewerOf(context)?.kind === 'apiKey';
}

/**
 * Rules whose messages only restate the document: they name operations, fragments, variables
 * and arguments as the document wrote them, never a type, field or directive of the schema.
 */
const DOCUMENT_RULES: readonly ValidationRule[] = [
  ExecutableDefinitionsRule,
  UniqueOperationNamesRule,
  LoneAnonymousOperationRule,
  SingleFieldSubscriptionsRule,
  UniqueFragmentNamesRule,
  KnownFragmentNamesRule,
  NoUnusedFragmentsRule,
  NoFragmentCyclesRule,
  UniqueVariableNamesRule,
  NoUndefinedVariablesRule,
  NoUnusedVariablesRule,
  UniqueArgumentNamesRule,
  UniqueInputFieldNamesRule,
  NoSchemaIntrospectionCustomRule,
];

/** Errors this module wrote or let through for a caller without schema access. */
const settled = new WeakSet<GraphQLError>();

const SUGGESTION = / ?Did you mean [^?]*\?/g;

/** The text that replaces what a message would have said about the schema. */
function hiddenDetail(mode: 'keys' | 'off' | 'on'): string {
  return mode === 'keys' ? ' (requests with an API key are told why)' : '';
}

/** A copy of `error` (same locations, path and extensions) with another message. */
function rewritten(error: GraphQLError, message: string): GraphQLError {
  const copy = new GraphQLError(message, {
    ...(error.nodes ? { nodes: error.nodes } : {}),
    ...(error.source ? { source: error.source } : {}),
    ...(error.positions ? { positions: error.positions } : {}),
    ...(error.path ? { path: error.path } : {}),
    extensions: error.extensions,
  });
  settled.add(copy);
  return copy;
}

/** The signature of a validation error: its message and where it points. */
const signature = (error: GraphQLError) =>
  `${error.message}@${JSON.stringify(error.locations ?? [])}`;

/**
 * Validation errors as a caller without schema access sees them (see the module comment).
 * Which errors restate the document only is found by running just those rules again; that
 * happens only when the document failed.
 */
function maskValidationErrors(
  schema: GraphQLSchema,
  document: Parameters<typeof validate>[1],
  errors: readonly Error[],
  mode: 'keys' | 'off' | 'on',
): Error[] {
  const open = (error: Error): error is GraphQLError =>
    error instanceof GraphQLError && !settled.has(error);
  if (!errors.some(open)) return [...errors];
  const fromDocument = new Set(validate(schema, document, DOCUMENT_RULES).map(signature));
  return errors.map((error) => {
    if (!open(error)) return error;
    if (error instanceof QueryTooComplexError || fromDocument.has(signature(error))) {
      settled.add(error);
      return error;
    }
    return rewritten(error, `The operation does not match the schema here${hiddenDetail(mode)}.`);
  });
}

/** The name of the type a variable definition declares (lists and non-null unwrapped). */
function namedTypeOf(type: TypeNode): string {
  return type.kind === Kind.NAMED_TYPE ? type.name.value : namedTypeOf(type.type);
}

/**
 * An execution error as a caller without schema access sees it: a variable of an input object
 * type loses what graphql-js says the object lacked or had too much of; every message loses
 * its "Did you mean" hints.
 */
function maskExecutionError(
  schema: GraphQLSchema,
  error: GraphQLError,
  mode: 'keys' | 'off' | 'on',
): GraphQLError {
  const inner = error.originalError;
  const definition = error.nodes?.[0];
  if (
    !error.path &&
    inner &&
    definition?.kind === Kind.VARIABLE_DEFINITION &&
    error.message.endsWith(`; ${inner.message}`) &&
    isInputObjectType(schema.getType(namedTypeOf(definition.type)))
  ) {
    const refused = error.message.slice(0, -(inner.message.length + 2));
    return rewritten(error, `${refused}${hiddenDetail(mode)}.`);
  }
  const message = error.message.replace(SUGGESTION, '');
  return message === error.message ? error : rewritten(error, message);
}

/**
 * Introspection, "Did you mean" hints and schema details in error messages, for the callers
 * `CHIPGATE_INTROSPECTION` allows only (see the module comment).
 */
export function useIntrospectionControl(access: Access): Plugin {
  const mode = access.config.introspection;
  /** For a caller who may not introspect: masks the errors of its result (not of a stream). */
  const maskResult = (args: ExecutionArgs) => {
    if (mayIntrospect(access, args.contextValue as Record<string, unknown>)) return undefined;
    return ({
      result,
      setResult,
    }: {
      result: ExecutionResult | AsyncIterable<unknown>;
      setResult: (result: ExecutionResult) => void;
    }) => {
      if (isAsyncIterable(result) || !result.errors?.length) return;
      setResult({
        ...result,
        errors: result.errors.map((error) => maskExecutionError(args.schema, error, mode)),
      });
    };
  };
  return {
    onValidate({ context, params, addValidationRule }) {
      if (mayIntrospect(access, context as Record<string, unknown>)) return undefined;
      addValidationRule(NoSchemaIntrospectionCustomRule);
      return ({ valid, result, setResult }) => {
        if (valid) return;
        setResult(maskValidationErrors(params.schema, params.documentAST, result, mode));
      };
    },
    onExecute({ args }) {
      const mask = maskResult(args);
      return mask && { onExecuteDone: mask };
    },
    // A subscription's variables are coerced when it subscribes.
    onSubscribe({ args }) {
      const mask = maskResult(args);
      return mask && { onSubscribeResult: mask };
    },
  } as Plugin;
}
