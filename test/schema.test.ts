/** The printed SDL is the contract: it must match the code, and everything is described. */
import { readFileSync } from 'node:fs';
import {
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isObjectType,
  isScalarType,
  isUnionType,
} from 'graphql';
import { describe, expect, it } from 'vitest';
import { schema } from '../src/schema/index.js';
import { printedSchema, schemaFile } from '../src/schema/print.js';

describe('schema/schema.graphql', () => {
  it('is exactly what the code prints (run `npm run schema:print` after changing the schema)', () => {
    expect(readFileSync(schemaFile, 'utf8')).toBe(printedSchema());
  });

  it('knows the specified directives besides @defer and @stream', () => {
    expect(schema.getDirectives().map((directive) => directive.name)).toEqual(
      expect.arrayContaining([
        'include',
        'skip',
        'deprecated',
        'specifiedBy',
        'oneOf',
        'defer',
        'stream',
      ]),
    );
  });

  it('describes every type, field, argument, input field and enum value for partners', () => {
    const missing: string[] = [];
    for (const type of Object.values(schema.getTypeMap())) {
      if (type.name.startsWith('__')) continue;
      if (isScalarType(type) && ['String', 'Int', 'Float', 'Boolean', 'ID'].includes(type.name))
        continue;
      if (!type.description?.trim()) missing.push(type.name);
      if (isObjectType(type) || isInterfaceType(type)) {
        for (const field of Object.values(type.getFields())) {
          if (!field.description?.trim()) missing.push(`${type.name}.${field.name}`);
          for (const arg of field.args) {
            if (!arg.description?.trim()) missing.push(`${type.name}.${field.name}(${arg.name})`);
          }
        }
      }
      if (isInputObjectType(type)) {
        for (const field of Object.values(type.getFields())) {
          if (!field.description?.trim()) missing.push(`${type.name}.${field.name}`);
        }
      }
      if (isEnumType(type)) {
        for (const value of type.getValues()) {
          if (!value.description?.trim()) missing.push(`${type.name}.${value.name}`);
        }
      }
      if (isUnionType(type) && !type.description) missing.push(type.name);
    }
    expect(missing).toEqual([]);
  });

  it('keeps the contract names of api.md', () => {
    const field = (type: string, name: string) => {
      const t = schema.getType(type);
      if (!isObjectType(t)) throw new Error(`${type} is not an object type`);
      const f = t.getFields()[name];
      if (!f) throw new Error(`${type}.${name} is missing`);
      return String(f.type);
    };
    expect(field('Company', 'chipsDesigned')).toBe('ChipConnection!');
    expect(field('Company', 'demandSignals')).toBe('DemandSignalConnection!');
    expect(field('Company', 'policyDecisions')).toBe('PolicyDecisionConnection!');
    expect(field('Chip', 'policyDecisions')).toBe('ChipPolicyDecisionConnection!');
    expect(field('Chip', 'exportStatus')).toBe('ExportStatus!');
    expect(field('PolicyDecision', 'chips')).toBe('[AffectedChip!]!');
    expect(field('PolicyDecision', 'updates')).toBe('[PolicyDecisionUpdate!]!');
    expect(field('DemandSignal', 'valueUsd')).toBe('Decimal');
    expect(field('Query', 'timeline')).toBe('TimelineConnection!');
    expect(field('Query', 'nodes')).toBe('[Node]!');
    expect(field('ChipPolicyDecisionEdge', 'effect')).toBe('PolicyEffect!');
    const scalarNames = ['Date', 'DateTime', 'Decimal', 'CountryCode', 'URL'];
    for (const name of scalarNames) expect(isScalarType(schema.getType(name))).toBe(true);
    const pageInfo = schema.getType('PageInfo');
    expect(isObjectType(pageInfo) && Object.keys(pageInfo.getFields()).sort()).toEqual([
      'endCursor',
      'hasNextPage',
      'hasPreviousPage',
      'startCursor',
    ]);
  });
});
