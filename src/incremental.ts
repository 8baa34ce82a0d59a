/**
 * What a request may ask of `@defer` and `@stream` beyond their types, checked before anything
 * runs (the executor would otherwise throw mid-operation, which answers as an internal error):
 *
 * - `label` (both directives): at most `TEXT_LIMITS.shortText` characters. A label is repeated
 *   in every payload of its fragment or list, so an unbounded one multiplies into the answer.
 *   A literal over it fails validation (labels cannot be variables).
 * - `@stream(initialCount:)`: an integer of 0 or more. A literal `null` or negative fails
 *   validation; so does a variable whose value (or default) is `null` or negative.
 * - `if:` (both): a variable whose value is `null` (the executor would answer 200 with an
 *   error, where every other bad variable is a 400).
 *
 * Either way the answer is HTTP 400 with one `BAD_USER_INPUT` error and no data.
 */
import {
  type DirectiveNode,
  type DocumentNode,
  GraphQLError,
  Kind,
  type ValidationContext,
  type ValueNode,
  visit,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { limitSentence, TEXT_LIMITS, textLength } from './db/limits.js';
import { ErrorCode } from './errors.js';

/** Longest `label` of `@defer`/`@stream`, in characters (code points). */
export const MAX_INCREMENTAL_LABEL = TEXT_LIMITS.shortText;

/** The argument `name` of `directive`, if given. */
function argumentOf(directive: DirectiveNode, name: string): ValueNode | undefined {
  return directive.arguments?.find((argument) => argument.name.value === name)?.value;
}

/** Why an `initialCount` value is refused, or undefined when it is fine (absent: the default 0). */
function badInitialCount(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    return `@stream(initialCount:) must be an integer of 0 or more (got ${JSON.stringify(value)}).`;
  }
  return undefined;
}

/** The validation rule: literal labels and literal `initialCount` values. */
function incrementalArgumentsRule(context: ValidationContext) {
  return {
    Directive(node: DirectiveNode) {
      const name = node.name.value;
      if (name !== 'defer' && name !== 'stream') return;
      const label = argumentOf(node, 'label');
      if (label?.kind === Kind.STRING && textLength(label.value) > MAX_INCREMENTAL_LABEL) {
        context.reportError(
          new GraphQLError(`@${name}(label:) is too long: ${limitSentence('shortText')}`, {
            nodes: [label],
            extensions: { code: ErrorCode.BAD_USER_INPUT },
          }),
        );
      }
      const count = name === 'stream' ? argumentOf(node, 'initialCount') : undefined;
      if (count?.kind === Kind.NULL || count?.kind === Kind.INT) {
        const reason = badInitialCount(count.kind === Kind.NULL ? null : Number(count.value));
        if (reason) {
          context.reportError(
            new GraphQLError(reason, {
              nodes: [count],
              extensions: { code: ErrorCode.BAD_USER_INPUT },
            }),
          );
        }
      }
    },
  };
}

/** An `@defer`/`@stream` argument given by a variable: `if` (both) or `initialCount` (stream). */
interface VariableSite {
  readonly directive: 'defer' | 'stream';
  readonly argument: 'if' | 'initialCount';
  readonly variable: string;
}

/** A document's variable-bound `@defer`/`@stream` arguments, and its variables' literal defaults. */
interface DocumentSites {
  readonly sites: readonly VariableSite[];
  readonly defaults: ReadonlyMap<string, unknown>;
}

/** Found once per parsed document (yoga caches those), so a request only looks values up. */
const sitesByDocument = new WeakMap<DocumentNode, DocumentSites>();

function sitesOf(document: DocumentNode): DocumentSites {
  let found = sitesByDocument.get(document);
  if (found) return found;
  const sites: VariableSite[] = [];
  const defaults = new Map<string, unknown>();
  visit(document, {
    VariableDefinition(node) {
      const value = node.defaultValue;
      if (value?.kind === Kind.INT) defaults.set(node.variable.name.value, Number(value.value));
      if (value?.kind === Kind.NULL) defaults.set(node.variable.name.value, null);
    },
    Directive(node: DirectiveNode) {
      const directive = node.name.value;
      if (directive !== 'stream' && directive !== 'defer') return;
      const arguments_ =
        directive === 'stream' ? (['if', 'initialCount'] as const) : (['if'] as const);
      for (const argument of arguments_) {
        const value = argumentOf(node, argument);
        if (value?.kind === Kind.VARIABLE) {
          sites.push({ directive, argument, variable: value.name.value });
        }
      }
    },
  });
  found = { sites, defaults };
  sitesByDocument.set(document, found);
  return found;
}

/**
 * The `@stream(initialCount: $var)` and `@defer/@stream(if: $var)` values of a request that are
 * refused: the first reason, or undefined. `variables` are the request's own (before coercion:
 * a value of the wrong type is left to GraphQL's coercion, which answers BAD_USER_INPUT itself);
 * a variable the request leaves out takes its default (a literal in the document).
 */
function badIncrementalVariable(
  document: DocumentNode,
  variables: Readonly<Record<string, unknown>> | undefined,
): string | undefined {
  const { sites, defaults } = sitesOf(document);
  for (const { directive, argument, variable } of sites) {
    const value =
      variables && Object.hasOwn(variables, variable)
        ? variables[variable]
        : defaults.get(variable);
    if (argument === 'if') {
      if (value === null)
        return `@${directive}(if:) must be true or false (got null in $${variable}).`;
    } else if (value === null || typeof value === 'number') {
      const reason = badInitialCount(value);
      if (reason) return reason;
    }
  }
  return undefined;
}

/** The plugin: see the module comment. */
export function useIncrementalLimits(): Plugin {
  return {
    onValidate({ addValidationRule }) {
      addValidationRule(incrementalArgumentsRule);
    },
    onExecute({ args, setResultAndStopExecution }) {
      const reason = badIncrementalVariable(args.document, args.variableValues ?? undefined);
      if (reason) {
        setResultAndStopExecution({
          errors: [
            new GraphQLError(reason, {
              extensions: { code: ErrorCode.BAD_USER_INPUT, http: { status: 400 } },
            }),
          ],
        });
      }
    },
  };
}
