/**
 * The shape limits (`src/document-shape.ts`): documents within the token, alias and directive
 * limits whose validation would be superlinear (one response path answered by hundreds of
 * fields, hundreds of fragment spreads) are refused with `QUERY_TOO_COMPLEX` before graphql-js
 * validates them; the worst documents they still admit validate and reach the cost limit.
 * Timings are printed, not asserted.
 */
import { parse, validate } from 'graphql';

import { ADMITTED, fill, SHAPES, tokenCount } from '../bench/validation-shapes.js';
import { shapeLimitError } from '../src/document-shape.js';
import { schema } from '../src/schema/index.js';
import { describe, expect, test } from './helpers/fixtures.js';
import { defaultLimits } from './helpers/gateway.js';

const limits = defaultLimits();
const admitted = (text: string) => !shapeLimitError(parse(text), limits);

describe('shape limits', () => {
  test.for(Object.keys(SHAPES))(
    'refuses %s at the token limit with QUERY_TOO_COMPLEX',
    async (name, { gateway }) => {
      const text = fill(SHAPES[name] as (n: number) => string, limits.maxTokens);
      expect(tokenCount(text)).toBeGreaterThan(limits.maxTokens * 0.99);
      const started = performance.now();
      const result = await gateway.execute(text);
      const ms = performance.now() - started;
      let validation = performance.now();
      validate(schema, parse(text));
      validation = performance.now() - validation;
      console.log(
        `${name}: refused in ${ms.toFixed(1)} ms; graphql-js validation alone ${validation.toFixed(1)} ms`,
      );
      expect(result.data).toBeUndefined();
      expect(result.errors).toHaveLength(1);
      expect(result.errors?.[0]?.extensions?.code).toBe('QUERY_TOO_COMPLEX');
      expect(result.errors?.[0]?.message).toMatch(
        /over the limit.*\(CHIPGATE_MAX_(FIELD_REPEATS|FRAGMENT_SPREADS|SELECTIONS)\)/,
      );
    },
  );

  test.for(Object.keys(ADMITTED))(
    'admits %s at the shape limits: it validates and runs',
    async (name, { gateway }) => {
      const text = fill(ADMITTED[name] as (n: number) => string, limits.maxTokens, admitted);
      const started = performance.now();
      const result = await gateway.execute(text);
      console.log(`${name}: answered in ${(performance.now() - started).toFixed(1)} ms`);
      expect(result.errors).toBeUndefined();
      expect(result.data?.chip).toMatchObject({ slug: 'h200' });
    },
  );

  test('names the path and the limit, and follows the configured limits', () => {
    const tight = { ...limits, maxFieldRepeats: 2, maxFragmentSpreads: 1, maxSelections: 5 };
    expect(shapeLimitError(parse('{ chip(slug: "a") { slug slug } }'), tight)).toBeUndefined();
    expect(
      shapeLimitError(
        parse('{ chip(slug: "a") { slug ... on Chip { slug } ...F } } fragment F on Chip { slug }'),
        tight,
      )?.message,
    ).toBe(
      'The document selects "chip.slug" more than 2 times, over the limit of fields per response path (CHIPGATE_MAX_FIELD_REPEATS).',
    );
    expect(
      shapeLimitError(parse('{ chip(slug: "a") { ...F ...F } } fragment F on Chip { slug }'), tight)
        ?.message,
    ).toMatch(/spreads fragments 2 times, over the limit of 1 \(CHIPGATE_MAX_FRAGMENT_SPREADS\)/);
    expect(shapeLimitError(parse('{ chip(slug: "a") { a b c d e } }'), tight)?.message).toMatch(
      /more than 5 fields .*CHIPGATE_MAX_SELECTIONS/,
    );
    // An unused fragment is validated too, so it is counted too.
    expect(
      shapeLimitError(parse('{ __typename } fragment U on Chip { slug slug slug }'), tight)
        ?.message,
    ).toMatch(/"\(fragment U\)\.slug" more than 2 times/);
    // Cycles and unknown fragments are left to validation.
    expect(shapeLimitError(parse('{ ...A } fragment A on Query { ...A ...B }'), limits)).toBe(
      undefined,
    );
  });
});
