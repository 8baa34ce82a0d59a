/**
 * The fields an object of a given type answers for a selection set, by response key, in the
 * order graphql-js executes them (the spec's CollectFields): fragments and inline fragments
 * whose type condition applies, `@skip` and `@include` evaluated with the request's variables,
 * fields of one response key merged. `@defer` fragments are walked like any other unless the
 * caller asks for them apart (the planner's deferred plans, see `collectFields`).
 */
import { GraphQLDeferDirective } from '@graphql-tools/utils';
import {
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLAbstractType,
  GraphQLIncludeDirective,
  type GraphQLObjectType,
  type GraphQLSchema,
  GraphQLSkipDirective,
  getDirectiveValues,
  isAbstractType,
  Kind,
  type SelectionSetNode,
  typeFromAST,
} from 'graphql';

/** What collecting needs: the schema, the document's fragments and the coerced variables. */
export interface CollectContext {
  readonly schema: GraphQLSchema;
  readonly fragments: Readonly<Record<string, FragmentDefinitionNode>>;
  readonly variables: Readonly<Record<string, unknown>>;
}

/** Whether `@skip`/`@include` keep a selection. */
export function included(
  context: CollectContext,
  node: { directives?: readonly unknown[] | undefined },
): boolean {
  if (!node.directives?.length) return true;
  const selection = node as FieldNode;
  const skip = getDirectiveValues(GraphQLSkipDirective, selection, context.variables);
  if (skip?.if === true) return false;
  const include = getDirectiveValues(GraphQLIncludeDirective, selection, context.variables);
  return include?.if !== false;
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
  const defer = getDirectiveValues(GraphQLDeferDirective, node as FieldNode, context.variables);
  return defer !== undefined && defer.if !== false;
}

/** A `@defer` fragment that applies to the object being collected: its selection set. */
export interface DeferredSelection {
  readonly selectionSet: SelectionSetNode;
}

function conditionApplies(
  context: CollectContext,
  condition: { name: { value: string } } | undefined,
  type: GraphQLObjectType,
): boolean {
  if (!condition) return true;
  const conditionType = typeFromAST(context.schema, {
    kind: Kind.NAMED_TYPE,
    name: { kind: Kind.NAME, value: condition.name.value },
  });
  if (conditionType === type) return true;
  return (
    conditionType !== undefined &&
    isAbstractType(conditionType) &&
    context.schema.isSubType(conditionType as GraphQLAbstractType, type)
  );
}

/**
 * The fields of `selectionSets` for an object of `type`, by response key (insertion order is
 * execution order). With `deferred`, the `@defer` fragments that apply to `type` are not
 * walked: their selection sets are pushed onto `deferred` instead.
 */
export function collectFields(
  context: CollectContext,
  type: GraphQLObjectType,
  selectionSets: readonly SelectionSetNode[],
  deferred?: DeferredSelection[],
): Map<string, FieldNode[]> {
  const fields = new Map<string, FieldNode[]>();
  const visited = new Set<string>();
  const walk = (selectionSet: SelectionSetNode) => {
    for (const selection of selectionSet.selections) {
      if (!included(context, selection)) continue;
      if (selection.kind === Kind.FIELD) {
        const key = selection.alias?.value ?? selection.name.value;
        const list = fields.get(key);
        if (list) list.push(selection);
        else fields.set(key, [selection]);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        if (conditionApplies(context, selection.typeCondition, type)) {
          if (deferred && deferredFragment(context, selection)) {
            deferred.push({ selectionSet: selection.selectionSet });
          } else {
            walk(selection.selectionSet);
          }
        }
      } else {
        const name = selection.name.value;
        const fragment = context.fragments[name];
        if (deferred && deferredFragment(context, selection)) {
          if (fragment && conditionApplies(context, fragment.typeCondition, type)) {
            deferred.push({ selectionSet: fragment.selectionSet });
          }
          continue;
        }
        if (visited.has(name)) continue;
        visited.add(name);
        if (fragment && conditionApplies(context, fragment.typeCondition, type)) {
          walk(fragment.selectionSet);
        }
      }
    }
  };
  for (const selectionSet of selectionSets) walk(selectionSet);
  return fields;
}

/** The selection sets of the fields of one response key (for their merged sub-selection). */
export const subSelections = (nodes: readonly FieldNode[]): SelectionSetNode[] =>
  nodes.flatMap((node) => (node.selectionSet ? [node.selectionSet] : []));
