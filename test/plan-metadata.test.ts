/**
 * The planner's metadata, walked over the whole schema: every field of a table-backed type
 * (and every root field returning one) has a plan, derived from what Pothos records or
 * declared beside the field, and what a derived plan names exists in the store (a column of
 * the table, a relation of it). A field added without one fails here, not silently on the
 * resolver path.
 */
import { MapperKind, mapSchema } from '@graphql-tools/utils';
import {
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLObjectType,
  type GraphQLSchema,
  getNamedType,
  isObjectType,
} from 'graphql';
import { describe, expect, it } from 'vitest';
import { relationOf, tableOf } from '../src/db/tables.js';
import { fieldPlan, typePlan } from '../src/plan/metadata.js';
import { schema } from '../src/schema/index.js';

type AnyField = GraphQLField<unknown, unknown>;

/** The object types of a schema (introspection types left out). */
const objectTypes = (target: GraphQLSchema) =>
  Object.values(target.getTypeMap()).filter(
    (type): type is GraphQLObjectType => isObjectType(type) && !type.name.startsWith('__'),
  );

/** Whether a type is table-backed, or a connection (through its edges' node) of one. */
function readsStore(type: GraphQLNamedType): boolean {
  if (!isObjectType(type)) return false;
  if (typePlan(type)) return true;
  const edges = Object.values(type.getFields()).find(
    (field) => fieldPlan(field)?.kind === 'page' && getNamedType(field.type) !== type,
  );
  const edgeType = edges && getNamedType(edges.type);
  if (!edgeType || !isObjectType(edgeType)) return false;
  const node = Object.values(edgeType.getFields()).find((field) => {
    const plan = fieldPlan(field);
    return plan?.kind === 'page' && plan.part === 'node';
  });
  const nodeType = node && getNamedType(node.type);
  return nodeType !== undefined && isObjectType(nodeType) && typePlan(nodeType) !== undefined;
}

/**
 * The store-backed fields without a plan: every field of a table-backed type, and every query
 * field returning a table-backed type or a connection of one, as `Type.field`.
 */
function unplannedStoreFields(target: GraphQLSchema): string[] {
  const missing: string[] = [];
  const query = target.getQueryType();
  for (const type of objectTypes(target)) {
    const tableBacked = typePlan(type) !== undefined;
    for (const field of Object.values(type.getFields()) as AnyField[]) {
      const atRoot = type === query && readsStore(getNamedType(field.type));
      if ((tableBacked || atRoot) && !fieldPlan(field)) missing.push(`${type.name}.${field.name}`);
    }
  }
  return missing;
}

/** Derived plans that name what the store does not have (a column, a relation). */
function dangling(target: GraphQLSchema): string[] {
  const problems: string[] = [];
  for (const type of objectTypes(target)) {
    const table = typePlan(type)?.table;
    if (!table) continue;
    for (const field of Object.values(type.getFields()) as AnyField[]) {
      const plan = fieldPlan(field);
      const where = `${type.name}.${field.name}`;
      if (plan?.kind === 'column' && !(plan.column in tableOf(table))) {
        problems.push(`${where}: no column ${plan.column}`);
      }
      if (plan?.kind === 'relation') {
        try {
          relationOf(table, plan.relation);
        } catch {
          problems.push(`${where}: no relation ${plan.relation}`);
        }
      }
    }
  }
  return problems;
}

describe('planner metadata, derived from the schema', () => {
  it('gives every store-backed field a plan', () => {
    expect(unplannedStoreFields(schema)).toEqual([]);
  });

  it('derives plans that name real columns and relations', () => {
    expect(dangling(schema)).toEqual([]);
  });

  it('derives columns, relations with their order, tables and global ID keys', () => {
    const chip = schema.getType('Chip') as GraphQLObjectType;
    const decision = schema.getType('PolicyDecision') as GraphQLObjectType;
    const update = schema.getType('PolicyDecisionUpdate') as GraphQLObjectType;
    const link = schema.getType('AffectedChip') as GraphQLObjectType;
    expect(typePlan(chip)).toEqual({ table: 'chips', nodeKey: 'slug' });
    expect(typePlan(update)).toEqual({ table: 'policyDecisionUpdates', nodeKey: 'id' });
    expect(typePlan(link)).toEqual({ table: 'policyDecisionChips' });
    const fields = chip.getFields();
    // A field named apart from its column (`memoryBandwidthTBs` exposes `memoryBandwidthTbs`).
    expect(fieldPlan(fields.memoryBandwidthTBs as AnyField)).toEqual({
      kind: 'column',
      column: 'memoryBandwidthTbs',
    });
    expect(fieldPlan(fields.designer as AnyField)).toEqual({
      kind: 'relation',
      relation: 'designer',
    });
    // `t.relation`'s `query.orderBy` is the plan's order.
    expect(fieldPlan(fields.derivatives as AnyField)).toEqual({
      kind: 'relation',
      relation: 'derivatives',
      order: [
        { column: 'name', direction: 'asc' },
        { column: 'slug', direction: 'asc' },
      ],
    });
    // A relation field `t.relation` cannot say is declared with its order once.
    expect(fieldPlan(decision.getFields().updates as AnyField)).toMatchObject({
      kind: 'relation',
      relation: 'updates',
      latest: expect.any(Number),
    });
    expect(fieldPlan(fields.id as AnyField)).toEqual({ kind: 'globalId' });
  });

  it('reports a store-backed field whose plan cannot be derived', () => {
    // The same schema, with `Chip.name` no longer an expose (a hand-written resolver).
    const broken = mapSchema(schema, {
      [MapperKind.OBJECT_FIELD]: (config, fieldName, typeName) => {
        if (typeName !== 'Chip' || fieldName !== 'name') return config;
        const { pothosExposedField: _dropped, ...extensions } = config.extensions ?? {};
        return { ...config, extensions };
      },
    });
    expect(unplannedStoreFields(broken)).toEqual(['Chip.name']);
  });
});
