/**
 * Custom scalars. Date, DateTime, CountryCode and URL come from graphql-scalars (inputs are
 * normalized to the strings the store uses); Decimal is ours, since graphql-scalars has no
 * exact-decimal type. `Float` keeps its name but refuses non-finite inputs (`withFiniteFloat`).
 */

import { rewireTypes } from '@graphql-tools/utils';
import {
  GraphQLError,
  GraphQLFloat,
  type GraphQLNamedType,
  type GraphQLObjectType,
  GraphQLScalarType,
  GraphQLSchema,
  Kind,
  print,
  type ValueNode,
} from 'graphql';
import { GraphQLCountryCode, GraphQLDate, GraphQLDateTime, GraphQLURL } from 'graphql-scalars';
import { builder } from '../builder.js';
import { limitSentence, TEXT_LIMITS, textLength } from '../db/limits.js';

/**
 * A JS Date from graphql-scalars' Date parser as `YYYY-MM-DD` (it parses at UTC midnight).
 * Year 0000 passes RFC 3339 but not PostgreSQL (which has no year zero), so it is refused here.
 */
const toIsoDate = (value: unknown): string => {
  const text = (value as Date).toISOString().slice(0, 10);
  if (text.startsWith('0000')) {
    throw new GraphQLError('Date must be between 0001-01-01 and 9999-12-31.');
  }
  return text;
};

builder.addScalarType('Date', GraphQLDate, {
  description:
    'A calendar date in ISO 8601 form, `YYYY-MM-DD` (e.g. `2025-12-08`). Dates have no time ' +
    'zone: a decision announced on 2025-12-08 is dated 2025-12-08 everywhere.',
  parseValue: (value) => toIsoDate(GraphQLDate.parseValue(value)),
  parseLiteral: (ast) => toIsoDate(GraphQLDate.parseLiteral(ast, undefined)),
});

builder.addScalarType('DateTime', GraphQLDateTime, {
  description:
    'An instant in ISO 8601 / RFC 3339 form, always returned in UTC with a `Z` suffix ' +
    '(e.g. `2026-01-13T00:00:00.000Z`). Inputs may carry any offset.',
});

builder.addScalarType('CountryCode', GraphQLCountryCode, {
  description:
    'A country as an ISO 3166-1 alpha-2 code, upper case (e.g. `US`, `CN`, `TW`). Inputs are ' +
    'accepted in either case.',
  parseValue: (value) => String(GraphQLCountryCode.parseValue(value)).toUpperCase(),
  parseLiteral: (ast) => String(GraphQLCountryCode.parseLiteral(ast, undefined)).toUpperCase(),
});

/**
 * A URL from graphql-scalars' URL parser as the string stored: its WHATWG serialization
 * (percent-encoding, punycode, lower-cased scheme and host), refused unless it is `http:` or
 * `https:` (a `javascript:` or `data:` URL is absolute too, but no source a fact was confirmed
 * in) or when that serialization is longer than `TEXT_LIMITS.url`: the limit holds for what is
 * stored, which can be several times longer than what was sent (`é` becomes `%C3%A9`).
 */
const toWebUrl = (value: unknown): string => {
  const url = value as URL;
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new GraphQLError(`URL must be an absolute http: or https: URL (got ${url.protocol}).`);
  }
  const stored = url.toString();
  const length = textLength(stored);
  if (length > TEXT_LIMITS.url) {
    throw new GraphQLError(
      `URL must be at most ${TEXT_LIMITS.url} characters once normalized (percent-encoded, punycode host); this one is ${length}.`,
    );
  }
  return stored;
};

/**
 * Refuses a URL input longer than `TEXT_LIMITS.url` (code points) before it is parsed, so no
 * parser sees more; what is stored is checked again after normalization (`toWebUrl`).
 */
function boundedUrl(value: unknown): unknown {
  if (typeof value === 'string' && textLength(value) > TEXT_LIMITS.url) {
    throw new GraphQLError(
      `URL must be at most ${TEXT_LIMITS.url} characters (got ${textLength(value)}).`,
    );
  }
  return value;
}

builder.addScalarType('URL', GraphQLURL, {
  description:
    'An absolute `http:` or `https:` URL (RFC 3986), e.g. the public source a fact was ' +
    'confirmed in. Other schemes (`javascript:`, `data:`, `ftp:`, ...) are refused. Stored ' +
    'and returned as normalized by the WHATWG URL standard (non-ASCII percent-encoded, ' +
    `host in punycode). ${limitSentence('url').slice(0, -1)}, once normalized.`,
  parseValue: (value) => toWebUrl(GraphQLURL.parseValue(boundedUrl(value))),
  parseLiteral: (ast) => {
    if (ast.kind === Kind.STRING) boundedUrl(ast.value);
    return toWebUrl(GraphQLURL.parseLiteral(ast, undefined));
  },
});

const DECIMAL = /^-?(0|[1-9]\d*)(\.\d+)?$/;

function parseDecimal(value: unknown, node?: ValueNode): string {
  if (typeof value === 'string' && value.length <= TEXT_LIMITS.decimal && DECIMAL.test(value)) {
    return value;
  }
  throw new GraphQLError(
    `Decimal must be a string of digits with an optional fraction, e.g. "14000000000.50", at most ${TEXT_LIMITS.decimal} characters.`,
    node ? { nodes: node } : {},
  );
}

builder.addScalarType(
  'Decimal',
  new GraphQLScalarType<string, string>({
    name: 'Decimal',
    description:
      'An exact decimal number sent as a string, e.g. `"6200000000"` or `"0.25"`, so money ' +
      'never goes through floating point. Amounts are in the unit the field names (USD for ' +
      `\`valueUsd\`). Inputs are at most ${TEXT_LIMITS.decimal} characters.`,
    serialize: (value) => {
      if (typeof value === 'string') return value;
      if (typeof value === 'bigint') return value.toString();
      if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
      throw new GraphQLError('Decimal cannot represent this value');
    },
    parseValue: (value) => parseDecimal(value),
    parseLiteral: (ast) =>
      parseDecimal(ast.kind === Kind.STRING ? ast.value : undefined, ast as ValueNode),
  }),
  {},
);

/** A number as `Float` accepts it: finite. Throws the client error otherwise. */
function finiteFloat(value: number, shown: string = String(value)): number {
  if (Number.isFinite(value)) return value;
  throw new GraphQLError(
    `Float must be a finite number: NaN and infinities are refused (got ${shown}).`,
  );
}

/**
 * graphql-js' `Float` refusing NaN and infinities in literals too: its own literal parser
 * turns `1e999` (or an integer literal of 400 digits) into Infinity, which then reaches the
 * store, where every later read of the row fails. Variables were already refused (JSON's
 * `1e999` parses to Infinity, which `Float` refuses); the message is now the same for both.
 */
export const FiniteFloat = new GraphQLScalarType<number, number>({
  ...GraphQLFloat.toConfig(),
  description:
    'A signed double-precision number (IEEE 754), e.g. `814.0`. Inputs must be finite: NaN ' +
    'and infinities (the literal `1e999`, or a variable that overflows) are refused.',
  parseValue: (value) =>
    typeof value === 'number' ? finiteFloat(value) : (GraphQLFloat.parseValue(value) as number),
  parseLiteral: (ast, variables) =>
    finiteFloat(GraphQLFloat.parseLiteral(ast, variables) as number, print(ast)),
});

/**
 * `schema` with `FiniteFloat` wherever it names `Float` (arguments, input fields, outputs).
 * The name stays `Float`, so no client's variable declarations change. Pothos always builds
 * graphql-js' own `Float`, hence this rewiring after the build (graphql-tools' `rewireTypes`,
 * the step `mapSchema` ends with, which skips the built-in scalars itself).
 */
export function withFiniteFloat(schema: GraphQLSchema): GraphQLSchema {
  const { typeMap, directives } = rewireTypes(
    { ...schema.getTypeMap(), Float: FiniteFloat },
    schema.getDirectives(),
  );
  const root = (type: GraphQLObjectType | null | undefined) =>
    type ? (typeMap[type.name] as GraphQLObjectType) : undefined;
  return new GraphQLSchema({
    ...schema.toConfig(),
    query: root(schema.getQueryType()),
    mutation: root(schema.getMutationType()),
    subscription: root(schema.getSubscriptionType()),
    types: Object.values(typeMap) as GraphQLNamedType[],
    directives,
  });
}
