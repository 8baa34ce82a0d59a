/**
 * The chipgate GraphQL schema: imports every type module (each registers its types and root
 * fields on the builder) and builds the schema once.
 */
import { lexicographicSortSchema, specifiedDirectives } from 'graphql';
import { builder } from '../builder.js';
import { DeferDirective, StreamDirective } from './directives.js';
import { withFiniteFloat } from './scalars.js';
import './enums.js';
import './node.js';
import './company.js';
import './chip.js';
import './policy-decision.js';
import './policy-decision-mutations.js';
import './demand-signal.js';
import './export-status.js';
import './timeline.js';
import './results.js';
import './source-info.js';
import './federal-register.js';
import './financials.js';
import './news.js';
import './viewer.js';

/**
 * The executable schema, types sorted by name so the printed SDL is stable, with a `Float` that
 * refuses non-finite inputs, and the `@defer` and `@stream` directives (incremental delivery,
 * served by yoga's defer-stream plugin; declared here so that every use of the schema, from
 * trusted-document registration to the printed SDL, knows them). Naming directives replaces
 * graphql-js' default list, so the specified ones (`@include`, `@skip`, `@deprecated`,
 * `@specifiedBy`, `@oneOf`) are named too.
 */
export const schema = lexicographicSortSchema(
  withFiniteFloat(
    builder.toSchema({ directives: [...specifiedDirectives, DeferDirective, StreamDirective] }),
  ),
);
