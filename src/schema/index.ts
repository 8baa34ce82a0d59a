/**
 * The chipgate GraphQL schema: imports every type module (each registers its types and root
 * fields on the builder) and builds the schema once.
 */
import { GraphQLDeferDirective, GraphQLStreamDirective } from '@graphql-tools/utils';
import { lexicographicSortSchema, specifiedDirectives } from 'graphql';
import { builder } from '../builder.js';
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
 * refuses non-finite inputs. It declares `@defer` and `@stream` (delivered by yoga's
 * defer-stream plugin, see app.ts), so documents using them validate wherever the schema is
 * used outside a request too: trusted-document registration, `schema:check`, the start-up
 * check of registered documents, and the printed SDL partners read.
 */
export const schema = lexicographicSortSchema(
  withFiniteFloat(
    builder.toSchema({
      directives: [...specifiedDirectives, GraphQLDeferDirective, GraphQLStreamDirective],
    }),
  ),
);
