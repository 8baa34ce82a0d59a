/**
 * `@defer` fragments planned apart from the initial statement (see the module comment of
 * `compile.ts`): which fragments of an object can be (`splitDeferredFields`) and the one
 * statement of each, keyed by the ids of the rows it applies to (`planDeferred`).
 */
import type { FieldNode, GraphQLObjectType, SelectionSetNode } from 'graphql';
import { jsonArray, lookupManyJson, StatementBuilder } from '../db/plan-sql.js';
import type { TableKey } from '../db/tables.js';
import { collectFields, type DeferredSelection, mergeFields } from './collect.js';
import {
  type Bind,
  type DeferredPlan,
  type Planning,
  RowBuilder,
  type StatementScope,
} from './core.js';
import { fieldPlan } from './metadata.js';

/**
 * The fields of an object of `type` for `selections`, and, when deferred fragments are planned
 * apart now (`planner.splitDeferred`) and the object's rows have ids (`keyed`; a link row such
 * as an `AffectedChip` has none, so its fragments are inline), the fragments planned apart.
 * A deferred fragment that selects an object-valued field also selected outside it, or by
 * another fragment planned apart, is planned inline instead: each object has one planned
 * value per response key, which must hold every sub-selection of that key (a shared leaf is
 * the same value either way). Fragments come as the executor collects them: one nested
 * directly in another is a fragment of its own (its own payload, so its own statement), and a
 * spread walked inside a deferred fragment is not walked again outside it.
 */
export function splitDeferredFields(
  planner: Planning,
  type: GraphQLObjectType,
  selections: readonly SelectionSetNode[],
  keyed: boolean,
): { fields: Map<string, FieldNode[]>; deferredSelections: DeferredSelection[] } {
  if (!planner.splitDeferred || !keyed) {
    return { fields: planner.fields(type, selections), deferredSelections: [] };
  }
  const composite = (nodes: readonly FieldNode[]) => nodes.some((node) => node.selectionSet);
  const found: DeferredSelection[] = [];
  const collected = collectFields(planner.collect, type, selections, found);
  const inline = new Set<DeferredSelection>();
  for (;;) {
    const fields = mergeFields([collected, ...[...inline].map((fragment) => fragment.fields)]);
    const taken = new Set([...fields].filter(([, nodes]) => composite(nodes)).map(([k]) => k));
    const split: DeferredSelection[] = [];
    let inlined = false;
    for (const fragment of found) {
      const keys = [...fragment.fields].filter(([, nodes]) => composite(nodes)).map(([key]) => key);
      if (keys.some((key) => taken.has(key))) {
        // Terminates: each round inlines at least one fragment not inlined before.
        if (!inline.has(fragment)) inlined = true;
        inline.add(fragment);
      } else {
        split.push(fragment);
        for (const key of keys) taken.add(key);
      }
    }
    if (!inlined) return { fields, deferredSelections: split };
  }
}

/**
 * The statement of a `@defer` fragment on objects of `type` (rows of `table`): its selection
 * for the rows whose ids the request binds (`Bind.ids`), as `[[id, row], ...]`. Fragments
 * nested in it are planned inline.
 */
export function planDeferred(
  planner: Planning,
  type: GraphQLObjectType,
  table: TableKey,
  selectionSet: SelectionSetNode,
  path: string,
): DeferredPlan {
  const scope: StatementScope = { b: new StatementBuilder<Bind>(), tables: new Set([table]) };
  const ids = scope.b.param((bind) => bind.ids ?? []);
  const split = planner.splitDeferred;
  planner.splitDeferred = false;
  try {
    const alias = scope.b.alias(table);
    const row = new RowBuilder();
    const shape = planner.planObject(scope, row, type, alias, [selectionSet], path);
    const json = lookupManyJson(table, 'id', ids, alias, jsonArray(row.slots));
    const keys = new Set<string>();
    for (const [key, nodes] of planner.fields(type, [selectionSet])) {
      const field = type.getFields()[(nodes[0] as FieldNode).name.value];
      if (field && fieldPlan(field)?.kind !== 'resolver') keys.add(key);
    }
    return {
      statement: scope.b.compile(json),
      shape,
      tables: scope.tables,
      keys,
    };
  } finally {
    planner.splitDeferred = split;
  }
}
