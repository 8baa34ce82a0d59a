/**
 * What one operation may ask for, judged once before anything executes, on every path (HTTP,
 * SSE, WebSocket; resolvers or planner) and when a trusted document is registered: its depth
 * and cost (the complexity rule of `src/cost.ts`, computed by `@pothos/plugin-complexity` from
 * the schema's field complexities) and the limits of the values it passes
 * (`inputLimitError`). The limits themselves are per request (`QueryLimits`, from the
 * configuration or an API key's own).
 */
import { complexityFromQuery } from '@pothos/plugin-complexity';
import {
  type DocumentNode,
  type ExecutionArgs,
  GraphQLError,
  getOperationAST,
  getVariableValues,
  Kind,
} from 'graphql';
import { QueryTooComplexError } from './errors.js';
import { inputLimitError } from './input-limits.js';

/** Per-operation limits (see the README's configuration table). */
export interface QueryLimits {
  /** Deepest field nesting allowed. */
  maxDepth: number;
  /** Aliases allowed in one operation. */
  maxAliases: number;
  /** Cost budget: each field costs 1, connections multiply their selection by their page size. */
  maxCost: number;
  /** Lexical tokens allowed in one document. */
  maxTokens: number;
  /** Fields of a document answering one response path (`ShapeLimits` in document-shape.ts). */
  maxFieldRepeats: number;
  /** Fragment spreads in one document. */
  maxFragmentSpreads: number;
  /** Fields of a document with its fragment spreads expanded. */
  maxSelections: number;
  /**
   * Largest response, in bytes of JSON: a larger one is refused with `RESPONSE_TOO_LARGE`
   * (each event of a stream judged alone; see `src/response-size.ts`).
   */
  maxResponseBytes: number;
}

/** The `QUERY_TOO_COMPLEX` error for an operation over its depth or cost limit. */
function tooComplex(
  kind: 'depth' | 'cost',
  result: { depth: number; complexity: number; maxDepth?: number; maxComplexity?: number },
): QueryTooComplexError {
  return new QueryTooComplexError(
    kind === 'depth'
      ? `Query is too deep: depth ${result.depth}, the limit is ${result.maxDepth}.`
      : `Query is too expensive: cost ${result.complexity}, the limit is ${result.maxComplexity}. ` +
          'Ask for smaller pages (first/last) or fewer nested connections.',
  );
}

/** Depth and cost of an operation, as the complexity limits judge them. */
export interface OperationComplexity {
  depth: number;
  complexity: number;
}

/**
 * Computed complexities by document, then by operation name and variables: partner dashboards
 * send the same few operations with the same few variable sets, so a request seldom walks its
 * document again. A thrown error (a page size or cursor out of range) is kept too.
 */
const complexities = new WeakMap<DocumentNode, Map<string, OperationComplexity | GraphQLError>>();
const MAX_COMPLEXITIES_PER_DOCUMENT = 64;

/**
 * Depth and cost of the operation `args` selects, with its variables: the numbers the
 * complexity limits judge (the rule is in `src/cost.ts`: each field costs 1, a list multiplies
 * its selection by the most items it can return). Undefined when the document has no such
 * operation. Throws `BadUserInputError` for connection arguments out of range or cursors the
 * list did not issue.
 */
export function operationComplexity(
  args: Pick<ExecutionArgs, 'document' | 'operationName' | 'schema' | 'variableValues'> & {
    contextValue?: unknown;
  },
): OperationComplexity | undefined {
  const operation = getOperationAST(args.document, args.operationName);
  if (!operation) return undefined;
  const variables = (args.variableValues ?? {}) as Record<string, unknown>;
  let byVariables = complexities.get(args.document);
  if (!byVariables) {
    byVariables = new Map();
    complexities.set(args.document, byVariables);
  }
  // A subscription resuming from an SSE `Last-Event-ID` costs as with `after:`.
  const resuming = (args.contextValue as { lastEventId?: string } | undefined)?.lastEventId;
  const key = `${args.operationName ?? ''}\u0000${JSON.stringify(variables)}\u0000${resuming === undefined ? '' : 'resume'}`;
  let result = byVariables.get(key);
  if (!result) {
    const fragments = args.document.definitions.filter(
      (definition) => definition.kind === Kind.FRAGMENT_DEFINITION,
    );
    try {
      result = complexityFromQuery(
        { kind: Kind.DOCUMENT, definitions: [operation, ...fragments] },
        { schema: args.schema, ctx: (args.contextValue ?? {}) as object, variables },
      );
    } catch (error) {
      if (!(error instanceof GraphQLError)) throw error;
      result = error;
    }
    if (byVariables.size >= MAX_COMPLEXITIES_PER_DOCUMENT) byVariables.clear();
    byVariables.set(key, result);
  }
  if (result instanceof GraphQLError) throw result;
  return result;
}

/**
 * Why an operation may not run, or undefined: its depth or cost over the limits
 * (`QUERY_TOO_COMPLEX`), a text argument over its length limit or a list argument over
 * `MAX_LIST_ARGUMENT` entries (`BAD_USER_INPUT`, see `inputLimitError`), or a page size or cursor the contract refuses (`BAD_USER_INPUT`, thrown
 * by the connections' complexity functions). Checked once per operation before
 * anything executes, so a refused operation runs no SQL at any depth, whichever path
 * (resolvers or planner) would run it. Variables that do not coerce are left to execution,
 * which reports them as usual.
 */
export function operationLimitError(args: ExecutionArgs): GraphQLError | undefined {
  const ctx = args.contextValue as { limits: QueryLimits };
  const operation = getOperationAST(args.document, args.operationName);
  if (!operation) return undefined;
  const variables = (args.variableValues ?? {}) as Record<string, unknown>;
  const coerced = getVariableValues(args.schema, operation.variableDefinitions ?? [], variables);
  if (coerced.errors) return undefined;
  const inputError = inputLimitError(args.schema, args.document, operation, coerced.coerced);
  if (inputError) return inputError;
  let result: OperationComplexity | undefined;
  try {
    result = operationComplexity(args);
  } catch (error) {
    if (error instanceof GraphQLError) return error;
    throw error;
  }
  if (!result) return undefined;
  const limits = { maxDepth: ctx.limits.maxDepth, maxComplexity: ctx.limits.maxCost };
  if (result.depth > ctx.limits.maxDepth) return tooComplex('depth', { ...result, ...limits });
  if (result.complexity > ctx.limits.maxCost) return tooComplex('cost', { ...result, ...limits });
  return undefined;
}
