/**
 * The GraphQL filter inputs, built from their declarations in `src/db/filters.ts` (one
 * declaration gives the input type, the SQL and the subscription matcher).
 */
import type { InputFieldsFromShape, RecursivelyNormalizeNullableFields } from '@pothos/core';
import { builder, type PothosTypes } from '../builder.js';
import type { AnyFilter, FilterInputType, FilterValue } from '../db/filter-kit.js';
import {
  chipFilter,
  companyFilter,
  demandSignalFilter,
  policyDecisionFilter,
} from '../db/filters.js';
import { textLimit } from '../input-limits.js';
import { CompanyRole, DemandSignalKind, PolicyKind, PolicyStatus } from './enums.js';

/** The GraphQL types filter fields name. */
const INPUT_TYPES = {
  String: 'String',
  Boolean: 'Boolean',
  Float: 'Float',
  Date: 'Date',
  CountryCode: 'CountryCode',
  CompanyRole,
  PolicyStatus,
  PolicyKind,
  DemandSignalKind,
} as const satisfies Record<FilterInputType, unknown>;

type Types = PothosSchemaTypes.ExtendDefaultTypes<PothosTypes>;

/** The input fields of a filter value, one per declared field. */
type FilterFields<F extends AnyFilter> = InputFieldsFromShape<
  Types,
  RecursivelyNormalizeNullableFields<FilterValue<F>>,
  'InputObject'
>;

/** The input object type of a declared filter; its value is `FilterValue<declaration>`. */
function filterInput<F extends AnyFilter>(declaration: F) {
  return builder.inputRef<FilterValue<F>>(declaration.name).implement({
    description: declaration.description,
    fields: (t) =>
      Object.fromEntries(
        Object.entries(declaration.fields).map(([name, field]) => {
          const type = INPUT_TYPES[field.input as FilterInputType];
          const options = field.text
            ? textLimit(field.text, field.description)
            : { description: field.description };
          return [
            name,
            field.list ? t.field({ type: [type], ...options }) : t.field({ type, ...options }),
          ];
        }),
      ) as FilterFields<F>,
  });
}

/** `CompanyFilter`. */
export const CompanyFilter = filterInput(companyFilter);
/** `ChipFilter`. */
export const ChipFilter = filterInput(chipFilter);
/** `PolicyDecisionFilter`. */
export const PolicyDecisionFilter = filterInput(policyDecisionFilter);
/** `DemandSignalFilter`. */
export const DemandSignalFilter = filterInput(demandSignalFilter);
