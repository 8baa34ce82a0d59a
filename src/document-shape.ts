/**
 * The shape limits of a document: bounds, checked in one linear pass over the parsed document
 * before graphql-js validates it, on the shapes that make validation superlinear.
 *
 * graphql-js' `OverlappingFieldsCanBeMergedRule` compares, for every response path, every pair
 * of fields that answer it (through inline fragments and fragment spreads), and every pair of
 * fragments spread into one selection set. A document of a few thousand tokens that repeats one
 * field (or spreads many fragments holding it) therefore costs hundreds of milliseconds of event
 * loop to validate, even though the token, alias and depth limits admit it. With at most
 * `maxFieldRepeats` fields per response path and `maxFragmentSpreads` spreads per document, the
 * comparisons are at most `maxFieldRepeats` times the document's (expanded) fields, and the
 * expansion itself stops at `maxSelections`.
 */
import { type DocumentNode, Kind, type SelectionSetNode } from 'graphql';
import { QueryTooComplexError } from './errors.js';

/** The shape limits (see `QueryLimits`, which carries them per app). */
export interface ShapeLimits {
  /** Most fields of a document that answer one response path (e.g. `chips.edges.node.slug`). */
  maxFieldRepeats: number;
  /** Most fragment spreads (`...Name`) in one document. */
  maxFragmentSpreads: number;
  /**
   * Most fields of a document counted where they answer: in each operation with its fragment
   * spreads expanded, and in each fragment definition.
   */
  maxSelections: number;
}

/**
 * Why `document` is over a shape limit, named with the limit (a `QUERY_TOO_COMPLEX` error), or
 * undefined. Time and memory are linear in the document's size up to `maxSelections`: fragment
 * spreads are expanded where they are spread, and the walk stops at the first limit passed.
 * A spread of an unknown fragment, or a fragment cycle, is left to validation.
 */
export function shapeLimitError(
  document: DocumentNode,
  limits: ShapeLimits,
): QueryTooComplexError | undefined {
  const fragments = new Map<string, SelectionSetNode>();
  let spreads = 0;
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) {
      fragments.set(definition.name.value, definition.selectionSet);
    }
  }
  // Counted over the text, not the expansion: each `...Name` as written.
  const countSpreads = (set: SelectionSetNode): void => {
    for (const selection of set.selections) {
      if (selection.kind === Kind.FRAGMENT_SPREAD) spreads += 1;
      else if (selection.selectionSet) countSpreads(selection.selectionSet);
    }
  };
  for (const definition of document.definitions) {
    if ('selectionSet' in definition && definition.selectionSet) {
      countSpreads(definition.selectionSet);
    }
  }
  if (spreads > limits.maxFragmentSpreads) {
    return new QueryTooComplexError(
      `The document spreads fragments ${spreads} times, over the limit of ` +
        `${limits.maxFragmentSpreads} (CHIPGATE_MAX_FRAGMENT_SPREADS).`,
    );
  }

  let selections = 0;
  let error: QueryTooComplexError | undefined;
  /**
   * Walks the fields answering `path` in `sets` (the selection sets of every field that
   * answers it), grouping their sub-fields by response name; `active` holds the fragments
   * being expanded (a cycle is validation's to report).
   */
  const walk = (path: string, sets: SelectionSetNode[]): void => {
    const children = new Map<string, SelectionSetNode[]>();
    const counts = new Map<string, number>();
    const visit = (set: SelectionSetNode, active: Set<string>): void => {
      for (const selection of set.selections) {
        if (error) return;
        if (selection.kind === Kind.FIELD) {
          selections += 1;
          if (selections > limits.maxSelections) {
            error = new QueryTooComplexError(
              `The document selects more than ${limits.maxSelections} fields with its ` +
                `fragments expanded, over the limit (CHIPGATE_MAX_SELECTIONS).`,
            );
            return;
          }
          const key = (selection.alias ?? selection.name).value;
          const count = (counts.get(key) ?? 0) + 1;
          counts.set(key, count);
          if (count > limits.maxFieldRepeats) {
            const at = path ? `${path}.${key}` : key;
            error = new QueryTooComplexError(
              `The document selects "${at}" more than ${limits.maxFieldRepeats} times, over ` +
                `the limit of fields per response path (CHIPGATE_MAX_FIELD_REPEATS).`,
            );
            return;
          }
          if (selection.selectionSet) {
            const list = children.get(key);
            if (list) list.push(selection.selectionSet);
            else children.set(key, [selection.selectionSet]);
          }
        } else if (selection.kind === Kind.INLINE_FRAGMENT) {
          visit(selection.selectionSet, active);
        } else {
          const name = selection.name.value;
          const fragment = fragments.get(name);
          if (!fragment || active.has(name)) continue;
          active.add(name);
          visit(fragment, active);
          active.delete(name);
        }
      }
    };
    for (const set of sets) visit(set, new Set());
    for (const [key, list] of children) {
      if (error) return;
      walk(path ? `${path}.${key}` : key, list);
    }
  };
  // Validation compares the fields of every fragment definition too, spread or not.
  for (const definition of document.definitions) {
    if (error) break;
    if (definition.kind === Kind.OPERATION_DEFINITION) walk('', [definition.selectionSet]);
    else if (definition.kind === Kind.FRAGMENT_DEFINITION) {
      walk(`(fragment ${definition.name.value})`, [definition.selectionSet]);
    }
  }
  return error;
}
