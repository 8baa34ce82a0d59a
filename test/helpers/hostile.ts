/**
 * Hostile variants of a generated operation, for the cost-bounds test: the same document with
 * every page size, id list and list argument scaled up, and its root fields repeated under
 * aliases, as far as the per-operation limits let a caller go.
 *
 * `scaled(operation, size)` sets every `first`/`last` (literal or variable) to `size` and
 * stretches every non-empty list (literal or variable: ids, filter values) to `size` entries by
 * repeating its items; `aliased(operation, copies)` repeats the operation's root fields
 * `copies` times under new aliases. `worstAdmitted` finds the largest size, then the most
 * copies, whose cost still fits the budget (the charge decides, so an operation whose cost does
 * not grow with what it asks for is pushed to the maximum).
 */
import {
  type ASTNode,
  type DocumentNode,
  type FieldNode,
  Kind,
  type ListValueNode,
  type OperationDefinitionNode,
  parse,
  print,
  type SelectionNode,
  visit,
} from 'graphql';
import type { GeneratedOperation } from './operations.js';

/** Largest page size and list argument a caller may send. */
const MAX = 100;

const PAGE_ARGUMENTS = new Set(['first', 'last']);

/** A list of `size` entries made by repeating `items` in order (an empty list stays empty). */
const stretch = <T>(items: readonly T[], size: number): T[] =>
  items.length === 0 ? [] : Array.from({ length: size }, (_, i) => items[i % items.length] as T);

/** Variables with page sizes at `size` and non-empty lists stretched to `size` entries. */
function scaledValue(value: unknown, size: number, key?: string): unknown {
  if (Array.isArray(value)) {
    return stretch(value, size).map((item) => scaledValue(item, size));
  }
  if (key && PAGE_ARGUMENTS.has(key) && typeof value === 'number' && value >= 0) return size;
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([name, inner]) => [name, scaledValue(inner, size, name)]),
    );
  }
  return value;
}

/** `operation` with every page size at `size` and every non-empty list of `size` entries. */
export function scaled(operation: GeneratedOperation, size: number): GeneratedOperation {
  const document = visit(parse(operation.query), {
    Argument(node) {
      if (!PAGE_ARGUMENTS.has(node.name.value) || node.value.kind !== Kind.INT) return undefined;
      if (Number(node.value.value) < 0) return undefined;
      return { ...node, value: { kind: Kind.INT, value: String(size) } };
    },
    ListValue(node): ListValueNode {
      return { ...node, values: stretch(node.values, size) };
    },
  });
  return {
    name: `${operation.name} [sizes ${size}]`,
    query: print(document),
    ...(operation.variables
      ? { variables: scaledValue(operation.variables, size) as Record<string, unknown> }
      : {}),
  };
}

/** The root fields of an operation, or undefined when it spreads fragments at the root. */
function rootFields(operation: OperationDefinitionNode): readonly FieldNode[] | undefined {
  const fields = operation.selectionSet.selections;
  return fields.every((s): s is FieldNode => s.kind === Kind.FIELD) ? fields : undefined;
}

/** How many root fields an operation has (0 when it cannot be aliased). */
export function rootFieldCount(operation: GeneratedOperation): number {
  const document = parse(operation.query);
  const definition = document.definitions.find((d) => d.kind === Kind.OPERATION_DEFINITION);
  return definition ? (rootFields(definition)?.length ?? 0) : 0;
}

/** `operation` with its root fields repeated `copies` times under aliases `c<i>_<key>`. */
export function aliased(operation: GeneratedOperation, copies: number): GeneratedOperation {
  const document: DocumentNode = visit(parse(operation.query), {
    OperationDefinition(node) {
      const fields = rootFields(node);
      if (!fields) return undefined;
      const selections: SelectionNode[] = [];
      for (let copy = 0; copy < copies; copy += 1) {
        for (const field of fields) {
          const key = field.alias?.value ?? field.name.value;
          selections.push({ ...field, alias: { kind: Kind.NAME, value: `c${copy}_${key}` } });
        }
      }
      return { ...node, selectionSet: { ...node.selectionSet, selections } } as ASTNode;
    },
  });
  return { ...operation, name: `${operation.name} [x${copies} aliases]`, query: print(document) };
}

/**
 * The hostile variants of `operation` the limits admit: the largest size (up to 100) whose
 * cost fits, and with it the most alias copies (within `maxAliases`) whose cost fits. `cost`
 * returns the charged cost, or undefined when the operation is refused before it runs.
 */
export function worstAdmitted(
  operation: GeneratedOperation,
  limits: { maxCost: number; maxAliases: number },
  cost: (operation: GeneratedOperation) => number | undefined,
): GeneratedOperation[] {
  const fits = (candidate: GeneratedOperation) => {
    const charged = cost(candidate);
    return charged !== undefined && charged <= limits.maxCost;
  };
  // Largest size that fits (refusals, e.g. a page size a field does not accept, count as no).
  let [low, high] = [0, MAX];
  while (low < high) {
    const middle = Math.ceil((low + high) / 2);
    if (fits(scaled(operation, middle))) low = middle;
    else high = middle - 1;
  }
  if (low === 0) return [];
  const biggest = scaled(operation, low);
  const variants = [biggest];
  const fields = rootFieldCount(biggest);
  if (fields === 0) return variants;
  let copies = 1;
  for (let next = 2; next * fields <= limits.maxAliases; next += 1) {
    if (!fits(aliased(biggest, next))) break;
    copies = next;
  }
  if (copies > 1) variants.push(aliased(biggest, copies));
  return variants;
}
