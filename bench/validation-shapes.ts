/**
 * Documents whose validation by graphql-js is superlinear in their size, as `n` grows:
 * `SHAPES` are refused by the shape limits (`src/document-shape.ts`) at the token limit;
 * `ADMITTED` are the worst the shape limits still admit (each is valid and cheap to run, so it
 * validates, executes and answers). `fill` grows one to a limit. Used by
 * `test/validation-limits.test.ts` and `npm run bench:isolation`.
 */
import { Lexer, Source, TokenKind } from 'graphql';

/** Lexical tokens of a document, counted as the token limit counts them. */
export function tokenCount(text: string): number {
  const lexer = new Lexer(new Source(text));
  let count = 0;
  while (lexer.advance().kind !== TokenKind.EOF) count += 1;
  return count;
}

/** Largest n for which build(n) stays within `maxTokens` (and `admits` it). */
export function fill(
  build: (n: number) => string,
  maxTokens: number,
  admits: (text: string) => boolean = () => true,
): string {
  let [low, high] = [1, maxTokens];
  while (low < high) {
    const middle = Math.ceil((low + high) / 2);
    const text = build(middle);
    if (tokenCount(text) <= maxTokens && admits(text)) low = middle;
    else high = middle - 1;
  }
  return build(low);
}

const times = (n: number, item: (i: number) => string) =>
  Array.from({ length: n }, (_, i) => item(i)).join(' ');

/** Hostile shapes, each of `n` repeated parts (fields, spreads, fragments). */
export const SHAPES: Record<string, (n: number) => string> = {
  sameTypename: (n) => `{ ${times(n, () => '__typename')} }`,
  sameField: (n) => `{ chip(slug: "h200") { ${times(n, () => 'name')} } }`,
  sameFieldArgs: (n) => `{ ${times(n, () => 'chip(slug: "h200") { name }')} }`,
  sameFieldNested: (n) => `{ ${times(n, () => 'chips { edges { node { slug } } }')} }`,
  inlineFragments: (n) => `{ ${times(n, () => '... on Query { __typename }')} }`,
  sameSpreads: (n) => `{ ${times(n, () => '...F')} } fragment F on Query { __typename }`,
  manyFragments: (n) =>
    `{ ${times(n, (i) => `...F${i}`)} } ${times(n, (i) => `fragment F${i} on Query { __typename }`)}`,
  manyFragmentsNested: (n) =>
    `{ chips { edges { node { ${times(n, (i) => `...F${i}`)} } } } } ${times(n, (i) => `fragment F${i} on Chip { slug }`)}`,
  fragmentChain: (n) =>
    `{ ...F0 } ${times(n, (i) => `fragment F${i} on Query { __typename ${i + 1 < n ? `...F${i + 1}` : ''} }`)}`,
  spreadsEverywhere: (n) =>
    `{ chips { edges { node { ${times(n, () => '...F ...G')} } } } } fragment F on Chip { slug name } fragment G on Chip { slug name }`,
  wide: (n) => `{ chip(slug: "h200") { ${times(n, (i) => `a${i % 30}: name`)} } }`,
};

const CHIP_LEAVES =
  'announcedOn architecture confidence derivedFields designedForChinaMarket exportControlNote id ' +
  'interconnectGBs launchYear memoryBandwidthTBs memoryGb memoryType name performanceDensity ' +
  'processNode slug sourceUrl tdpWatts tpp';
/** A chip's leaves, then its `derivedFrom`'s with their own, `levels` deep (cost 1 a field). */
const chipTree = (levels: number): string =>
  levels <= 0 ? 'slug' : `${CHIP_LEAVES} derivedFrom { ${chipTree(levels - 1)} }`;

/** The worst shapes the default shape limits admit: 10 copies of one tree of `n` levels. */
export const ADMITTED: Record<string, (n: number) => string> = {
  repeatedTree: (n) => `{ ${times(10, () => `chip(slug: "h200") { ${chipTree(n)} }`)} }`,
  fragmentTrees: (n) =>
    `{ chip(slug: "h200") { ${times(10, (i) => `...T${i}`)} } } ${times(10, (i) => `fragment T${i} on Chip { ${chipTree(n)} }`)}`,
  inlineTrees: (n) =>
    `{ chip(slug: "h200") { ${times(10, () => `... on Chip { ${chipTree(n)} }`)} } }`,
};
