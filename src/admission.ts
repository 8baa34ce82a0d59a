/**
 * The admission rules of a document, declared once: what a request's document must fit before
 * it is validated and run (tokens, aliases, directives, shape), applied to requests by the
 * app's plugins (`admissionPlugins`) and to trusted documents when they are registered
 * (`admissionError`), so a registered document is never one a request would be refused.
 */
import { maxAliasesPlugin, maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDirectivesPlugin, maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives';
import { MaxTokensParserWLexer, maxTokensPlugin } from '@escape.tech/graphql-armor-max-tokens';
import {
  type DocumentNode,
  GraphQLError,
  type GraphQLSchema,
  type ValidationContext,
  type ValidationRule,
  validate,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { type ShapeLimits, shapeLimitError } from './document-shape.js';
import { ErrorCode, QueryTooComplexError } from './errors.js';
import type { QueryLimits } from './operation-limits.js';

/**
 * Deepest nesting accepted, in a document (its brackets `{` `[` `(` together: selection sets,
 * list and object values, arguments) and in `variables` (lists and objects): 64. No operation of
 * this API needs more; graphql-js' parser recurses once per level and overflows the stack past a
 * few thousand, which a document under the token limit can reach.
 */
export const MAX_NESTING = 64;

/**
 * Why the document `text` nests brackets deeper than `MAX_NESTING` (a `GRAPHQL_PARSE_FAILED`
 * error, HTTP 400, as for other documents the parser refuses), or undefined. One linear pass
 * over the text, before it is parsed: brackets inside strings, block strings and comments do not
 * count; unbalanced brackets are left to the parser to report.
 */
export function nestingError(text: string): GraphQLError | undefined {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '#') {
      while (i < text.length && text[i] !== '\n' && text[i] !== '\r') i++;
    } else if (c === '"') {
      if (text.startsWith('"""', i)) {
        // Block string: ends at the next unescaped `"""`.
        i += 3;
        while (i < text.length && !text.startsWith('"""', i)) {
          i += text.startsWith('\\"""', i) ? 4 : 1;
        }
        i += 2;
      } else {
        // String: ends at the next unescaped `"` or at the end of the line (a parse error).
        i++;
        while (i < text.length && text[i] !== '"' && text[i] !== '\n' && text[i] !== '\r') {
          i += text[i] === '\\' ? 2 : 1;
        }
      }
    } else if (c === '{' || c === '[' || c === '(') {
      depth++;
      if (depth > MAX_NESTING) {
        return new GraphQLError(
          `Syntax Error: the document nests brackets deeper than ${MAX_NESTING} levels ` +
            '(selection sets, lists, objects and arguments together); no operation of this ' +
            'API needs that.',
          { extensions: { code: ErrorCode.GRAPHQL_PARSE_FAILED, http: { status: 400 } } },
        );
      }
    } else if (c === '}' || c === ']' || c === ')') {
      depth = Math.max(0, depth - 1);
    }
  }
  return undefined;
}

/**
 * Refuses a document nested deeper than `MAX_NESTING` (`nestingError`) before any parser,
 * armor's token-counting one included, reads it.
 */
function useNestingLimit(): Plugin {
  return {
    onParse({ params }) {
      const source = params.source;
      const error = nestingError(typeof source === 'string' ? source : source.body);
      if (error) throw error;
    },
  };
}

/** Most directives in one operation (not configurable). */
export const MAX_DIRECTIVES = 50;

/** The limits a document is admitted by. */
export type AdmissionLimits = Pick<QueryLimits, 'maxTokens' | 'maxAliases'> & ShapeLimits;

/** Armor's validation rules report through the validation context, with our error code. */
const reportTooComplex = (context: unknown, error: Error) => {
  const message = error.message.replace(/^Syntax Error: /, '');
  const tooComplex = new QueryTooComplexError(message);
  if (context && typeof (context as ValidationContext).reportError === 'function') {
    (context as ValidationContext).reportError(tooComplex);
    return;
  }
  // The token limit fires inside the parser, where there is no context: fail the parse.
  throw tooComplex;
};

const armorOptions = (n: number) => ({
  n,
  onReject: [reportTooComplex],
  propagateOnRejection: false,
});

/**
 * The alias limit counts every alias, `__typename`'s too: armor exempts `__typename` by default,
 * which let `{ a0: __typename ... a999: __typename }` through a limit of 30.
 */
const aliasOptions = (n: number) => ({ ...armorOptions(n), allowList: [] });

/** Alias and directive rules, each with the setting that configures it (for messages). */
const countRules = (limits: AdmissionLimits): [ValidationRule, string][] => [
  [maxAliasesRule(aliasOptions(limits.maxAliases)), 'CHIPGATE_MAX_ALIASES'],
  [maxDirectivesRule(armorOptions(MAX_DIRECTIVES)), 'fixed'],
];

/**
 * Refuses a document over a shape limit (`shapeLimitError`) before graphql-js validates it, so
 * that validation, quadratic in the fields answering one response path, stays short: the
 * request gets `QUERY_TOO_COMPLEX` and no data, as for the other limits.
 */
function useShapeLimits(limits: ShapeLimits): Plugin {
  return {
    onValidate({ params, setResult }) {
      const error = shapeLimitError(params.documentAST, limits);
      if (error) setResult([error]);
    },
  };
}

/**
 * The request plugins of the admission rules: the nesting limit before parsing, the token limit
 * while parsing, then the shape
 * limits, then the alias and directive limits among the validation rules; each refusal is
 * `QUERY_TOO_COMPLEX`.
 */
export function admissionPlugins(limits: AdmissionLimits): Plugin[] {
  return [
    useNestingLimit(),
    maxTokensPlugin(armorOptions(limits.maxTokens)),
    useShapeLimits(limits),
    maxAliasesPlugin(aliasOptions(limits.maxAliases)),
    maxDirectivesPlugin(armorOptions(MAX_DIRECTIVES)),
  ] as Plugin[];
}

/**
 * Why a request sending the document `text` would be refused by the admission rules, naming
 * the rule and its limit (and the setting that configures it), or undefined. A document that
 * does not parse is not judged here (undefined): parsing reports it.
 */
export function admissionError(
  schema: GraphQLSchema,
  text: string,
  limits: AdmissionLimits,
): string | undefined {
  const nesting = nestingError(text);
  if (nesting) return `${nesting.message.replace(/^Syntax Error: /, '')} (fixed)`;
  let document: DocumentNode;
  try {
    const parser = new MaxTokensParserWLexer(text, {
      n: limits.maxTokens,
      onReject: [],
      propagateOnRejection: true,
    });
    document = parser.parseDocument();
  } catch (error) {
    const message = (error as Error).message;
    return /Token limit/.test(message)
      ? `${message.replace(/^Syntax Error: /, '')} (CHIPGATE_MAX_TOKENS)`
      : undefined;
  }
  const shape = shapeLimitError(document, limits);
  if (shape) return shape.message;
  for (const [rule, setting] of countRules(limits)) {
    const [error] = validate(schema, document, [rule]);
    if (error) return `${error.message} (${setting})`;
  }
  return undefined;
}
