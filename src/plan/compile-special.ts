/**
 * Planning the fields with rules of their own: `node(id)` and `nodes(ids)` (one lookup per
 * node type, bound from the decoded global IDs) and `Chip.exportStatus` (the deciding
 * decisions of both sides, by the rule in `src/db/export-status.ts`).
 */
import type { SQL } from 'drizzle-orm';
import type { PgTable } from 'drizzle-orm/pg-core';
import {
  type FieldNode,
  type GraphQLField,
  type GraphQLInterfaceType,
  type GraphQLOutputType,
  getNamedType,
} from 'graphql';
import { MAX_LIST_ARGUMENT } from '../cost.js';
import { decodeGlobalId } from '../db/global-ids.js';
import { EXPORT_STATUS_SLOTS } from '../db/plan-layout.js';
import { type AliasedRow, jsonArray, lookupJson, lookupManyJson } from '../db/plan-sql.js';
import {
  EXPORT_STATUS_TABLES,
  exportStatusAliases,
  exportStatusJson,
} from '../db/plan-sql-special.js';

import { subSelections } from './collect.js';
import {
  argsAt,
  type Bind,
  memo,
  type Planning,
  type Row,
  RowBuilder,
  type StatementScope,
  Unplannable,
} from './core.js';
import { fieldPlan, typePlan } from './metadata.js';
import { at, constantShaper, deferred, objectShaper, type Shaper, wrapShaper } from './shapes.js';

type Planned = { json: SQL; shape: Shaper<unknown, Bind> };

/** A row an export status can hold (see `EXPORT_STATUS_TABLES`). */
type ExportStatusRow = keyof typeof EXPORT_STATUS_TABLES;

/** The object types behind the `Node` interface that have a table and a global ID key. */
function nodeTypes(planner: Planning, field: GraphQLField<unknown, unknown>) {
  const named = getNamedType(field.type) as GraphQLInterfaceType;
  return planner.schema.getPossibleTypes(named).flatMap((type) => {
    const plan = typePlan(type);
    return plan?.nodeKey ? [{ type, table: plan.table, key: plan.nodeKey }] : [];
  });
}

/** `node(id)`: a lookup per node type, the one the ID names bound, the others null. */
export function planNode(
  planner: Planning,
  scope: StatementScope,
  field: GraphQLField<unknown, unknown>,
  nodes: FieldNode[],
  path: string,
): Planned {
  const node = nodes[0] as FieldNode;
  const decoded = (bind: Bind) =>
    memo(bind, `node:${path}`, () => decodeGlobalId(String(argsAt(bind, node).id)));
  const shapes: Shaper<Row, Bind>[] = [];
  const slots = nodeTypes(planner, field).map(({ type, table, key }) => {
    const row = new RowBuilder();
    const id = scope.b.param((bind) => {
      const found = decoded(bind);
      if (found.typename !== type.name) return null;
      return key === 'id' ? Number(found.id) : found.id;
    });
    const t = scope.b.alias(table);
    shapes.push(planner.planObject(scope, row, type, t, subSelections(nodes), path));
    return lookupJson(table, key, id, t, jsonArray(row.slots));
  });
  // The array holds one row (of the ID's type) or none.
  const pick = (value: unknown) => {
    const rows = value as readonly (Row | null)[];
    const index = rows.findIndex((row) => row !== null);
    return index < 0
      ? null
      : { shape: shapes[index] as Shaper<Row, Bind>, row: rows[index] as Row };
  };
  const shape: Shaper<unknown, Bind> = {
    value: (value, bind) => {
      const found = pick(value);
      return found ? found.shape.value(found.row, bind) : null;
    },
  };
  return { json: jsonArray(slots), shape };
}

/**
 * `nodes(ids)`: one lookup per node type for the distinct IDs of that type (an ID listed twice
 * is read once), answered in asked order at every position.
 */
export function planNodes(
  planner: Planning,
  scope: StatementScope,
  field: GraphQLField<unknown, unknown>,
  nodes: FieldNode[],
  path: string,
): Planned {
  const node = nodes[0] as FieldNode;
  const decoded = (bind: Bind) =>
    memo(bind, `nodes:${path}`, () => {
      const ids = argsAt(bind, node).ids as unknown[];
      if (ids.length > MAX_LIST_ARGUMENT) throw new Error('too many ids');
      return ids.map((id) => decodeGlobalId(String(id)));
    });
  const types = nodeTypes(planner, field);
  const shapes = new Map<string, Shaper<Row, Bind>>();
  const slots = types.map(({ type, table, key }) => {
    const row = new RowBuilder();
    const ids = scope.b.param((bind) => [
      ...new Set(
        decoded(bind)
          .filter((id) => id.typename === type.name)
          .map((id) => id.id),
      ),
    ]);
    const t = scope.b.alias(table);
    shapes.set(type.name, planner.planObject(scope, row, type, t, subSelections(nodes), path));
    return lookupManyJson(table, key, ids, t, jsonArray(row.slots));
  });
  // The rows found, in the order the IDs were asked, null where none.
  const inOrder = (value: unknown, bind: Bind) => {
    const found = new Map<string, Row>();
    (value as readonly (readonly [unknown, Row][])[]).forEach((rows, i) => {
      const typeName = types[i]?.type.name;
      for (const [key, row] of rows) found.set(`${typeName}:${String(key)}`, row);
    });
    return decoded(bind).map((id) => {
      const row = found.get(`${id.typename}:${id.id}`);
      return row ? { shape: shapes.get(id.typename) as Shaper<Row, Bind>, row } : null;
    });
  };
  const shape: Shaper<unknown, Bind> = {
    value: (value, bind) =>
      inOrder(value, bind).map((entry) => (entry ? entry.shape.value(entry.row, bind) : null)),
  };
  return { json: jsonArray(slots), shape };
}

/** `Chip.exportStatus` over the chip `chip`. */
export function planExportStatus(
  planner: Planning,
  scope: StatementScope,
  field: GraphQLField<unknown, unknown>,
  chip: PgTable,
  nodes: FieldNode[],
  path: string,
): Planned {
  const node = nodes[0] as FieldNode;
  const type = planner.objectTypeOf(field.type);
  const argument = (name: 'from' | 'to') => (bind: Bind) => argsAt(bind, node)[name];
  const asOf = (bind: Bind) => (argsAt(bind, node).asOf as string | null) ?? bind.today;
  // The rows asked for, built after the selection is read, in `EXPORT_STATUS_TABLES` order.
  const asked: Partial<
    Record<ExportStatusRow, { nodes: FieldNode[]; type: GraphQLOutputType; path: string }>
  > = {};
  const shapes: Partial<Record<ExportStatusRow, Shaper<unknown, Bind>>> = {};
  const parts: [string, Shaper<Row, Bind>][] = [];
  scope.tables.add('policyDecisions');
  scope.tables.add('policyDecisionChips');
  scope.tables.add('policyDecisionUpdates');
  const slot = (index: number) => (values: Row) => values[index];
  for (const [key, fieldNodes] of planner.fields(type, subSelections(nodes))) {
    const sub = type.getFields()[(fieldNodes[0] as FieldNode).name.value];
    const subPath = `${path}.${key}`;
    if (!sub) {
      parts.push([key, constantShaper(type.name)]);
      continue;
    }
    const plan = fieldPlan(sub);
    if (plan?.kind !== 'exportStatus') throw new Unplannable(`${type.name}.${sub.name}`);
    const part = plan.part;
    if (part === 'from' || part === 'to' || part === 'asOf') {
      const read = part === 'asOf' ? asOf : argument(part);
      parts.push([
        key,
        at((_values: Row, bind: Bind) => read(bind), planner.valueShaper(sub.type, fieldNodes)),
      ]);
    } else if (part === 'exportEffect' || part === 'importEffect') {
      parts.push([
        key,
        at(slot(EXPORT_STATUS_SLOTS[part]), planner.valueShaper(sub.type, fieldNodes)),
      ]);
    } else {
      if (asked[part]) throw new Unplannable(`${type.name}.${sub.name} twice`);
      asked[part] = { nodes: fieldNodes, type: sub.type, path: subPath };
      parts.push([
        key,
        at(
          slot(EXPORT_STATUS_SLOTS[part]),
          deferred(() => shapes[part]),
        ),
      ]);
    }
  }
  const sides = exportStatusAliases(scope.b);
  const rows: Partial<Record<ExportStatusRow, AliasedRow>> = {};
  for (const [part, table] of Object.entries(EXPORT_STATUS_TABLES)) {
    const wanted = asked[part as ExportStatusRow];
    if (!wanted) continue;
    const alias = scope.b.alias(table);
    const planned = planner.planRow(scope, wanted.type, wanted.nodes, wanted.path, alias);
    shapes[part as ExportStatusRow] = planned.shape;
    rows[part as ExportStatusRow] = { alias, row: planned.row };
  }
  const json = exportStatusJson(
    chip,
    {
      from: scope.b.param(argument('from')),
      to: scope.b.param(argument('to')),
      asOf: scope.b.param(asOf),
    },
    sides,
    rows,
  );
  const shape = wrapShaper(
    field.type,
    at((value: unknown) => value as Row, objectShaper(parts, planner.mark(type.name))),
  );
  return { json, shape };
}
