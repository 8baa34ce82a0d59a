/**
 * The fields an object of a given type answers for a selection set, by response key, in the
 * order the executor runs them (the spec's CollectFields), as `@graphql-tools/utils` collects
 * them for yoga's executor: fragments and inline fragments whose type condition applies,
 * `@skip` and `@include` evaluated with the request's variables, a fragment spread walked once
 * (a deferred one each time), fields of one response key merged. A `@defer` fragment whose
 * `if` is not false is collected apart, as a patch (nested ones as patches of their own);
 * `@defer(if: false)` is walked inline. Callers that do not ask for patches get them merged
 * into the fields (see `collectFields`).
 */
import {
  collectFields as collectFieldsAndPatches,
  getDeferValues,
  shouldIncludeNode,
} from '@graphql-tools/utils';
import {
  type FieldNode,
  type FragmentDefinitionNode,
  type FragmentSpreadNode,
  type GraphQLObjectType,
  type GraphQLSchema,
  type InlineFragmentNode,
  Kind,
  type SelectionSetNode,
} from 'graphql';

/** What collecting needs: the schema, the document's fragments and the coerced variables. */
export interface CollectContext {
  readonly schema: GraphQLSchema;
  readonly fragments: Readonly<Record<string, FragmentDefinitionNode>>;
  readonly variables: Readonly<Record<string, unknown>>;
}

/** Fields by response key, in execution order; each list holds a field node once. */
export type CollectedFields = Map<string, FieldNode[]>;

/** Whether `@skip`/`@include` keep a selection (a field, a fragment spread, an inline one). */
export function included(
  context: CollectContext,
  node: { directives?: readonly unknown[] | undefined },
): boolean {
  return !node.directives?.length || shouldIncludeNode(context.variables, node as FieldNode);
}

/**
 * Whether a fragment (inline or spread) is deferred in this request: it carries `@defer` whose
 * `if` is not false.
 */
export function deferredFragment(
  context: CollectContext,
  node: { directives?: readonly unknown[] | undefined },
): boolean {
  if (!node.directives?.length) return false;
  const fragment = node as FragmentSpreadNode | InlineFragmentNode;
  return getDeferValues(context.variables, fragment) !== undefined;
}

/**
 * A `@defer` fragment that applies to the object being collected (a patch): its fields, and
 * the same fields as one selection set of those field nodes, for callers that collect from
 * selection sets (collecting it again gives `fields`). A `@defer` fragment nested in it is a
 * `DeferredSelection` of its own, not part of it.
 */
export interface DeferredSelection {
  readonly fields: CollectedFields;
  readonly selectionSet: SelectionSetNode;
}

/**
 * The fields of `selectionSets` for an object of `type`, by response key (insertion order is
 * execution order; the sets are walked as one, so a fragment spread is walked once over all).
 * With `deferred`, the `@defer` fragments that apply to `type` are not in the result: they are
 * pushed onto `deferred`, in the order the executor collects them (a nested one before the
 * fragment around it). Without it, their fields are merged in after the others.
 */
export function collectFields(
  context: CollectContext,
  type: GraphQLObjectType,
  selectionSets: readonly SelectionSetNode[],
  deferred?: DeferredSelection[],
): CollectedFields {
  const selectionSet: SelectionSetNode =
    selectionSets.length === 1
      ? (selectionSets[0] as SelectionSetNode)
      : { kind: Kind.SELECTION_SET, selections: selectionSets.flatMap((set) => set.selections) };
  const { fields, patches } = collectFieldsAndPatches(
    context.schema,
    context.fragments as Record<string, FragmentDefinitionNode>,
    context.variables,
    type,
    selectionSet,
  );
  if (!deferred) return mergeFields([fields, ...patches.map((patch) => patch.fields)]);
  for (const patch of patches) {
    const selections = [...patch.fields.values()].flat();
    deferred.push({ fields: patch.fields, selectionSet: { kind: Kind.SELECTION_SET, selections } });
  }
  return fields;
}

/**
 * `collected` merged, by response key in order of first appearance, each key's field nodes in
 * order without repeats. One map is returned as is (not copied).
 */
export function mergeFields(collected: readonly CollectedFields[]): CollectedFields {
  if (collected.length === 1) return collected[0] as CollectedFields;
  const merged: CollectedFields = new Map();
  for (const fields of collected) {
    for (const [key, nodes] of fields) {
      const list = merged.get(key);
      if (!list) merged.set(key, [...nodes]);
      else for (const node of nodes) if (!list.includes(node)) list.push(node);
    }
  }
  return merged;
}

/** The selection sets of the fields of one response key (for their merged sub-selection). */
export const subSelections = (nodes: readonly FieldNode[]): SelectionSetNode[] =>
  nodes.flatMap((node) => (node.selectionSet ? [node.selectionSet] : []));
