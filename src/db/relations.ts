/**
 * Relations between the chipgate tables (drizzle relational queries v2). These drive both
 * `db.query.*` and the Pothos drizzle plugin, which folds nested GraphQL selections into one
 * SQL statement per root field.
 */
import { defineRelations } from 'drizzle-orm';
import * as schema from './schema.js';

export const relations = defineRelations(schema, (r) => ({
  companies: {
    chipsDesigned: r.many.chips({
      from: r.companies.id,
      to: r.chips.designerId,
      alias: 'designer',
    }),
    chipsFabricated: r.many.chips({
      from: r.companies.id,
      to: r.chips.foundryId,
      alias: 'foundry',
    }),
    policyDecisions: r.many.policyDecisions({
      from: r.companies.id.through(r.policyDecisionCompanies.companyId),
      to: r.policyDecisions.id.through(r.policyDecisionCompanies.decisionId),
    }),
    demandSignals: r.many.demandSignals({
      from: r.companies.id.through(r.demandSignalCompanies.companyId),
      to: r.demandSignals.id.through(r.demandSignalCompanies.signalId),
    }),
  },
  chips: {
    designer: r.one.companies({
      from: r.chips.designerId,
      to: r.companies.id,
      optional: false,
      alias: 'designer',
    }),
    foundry: r.one.companies({ from: r.chips.foundryId, to: r.companies.id, alias: 'foundry' }),
    derivedFrom: r.one.chips({ from: r.chips.derivedFromId, to: r.chips.id, alias: 'derivation' }),
    derivatives: r.many.chips({ from: r.chips.id, to: r.chips.derivedFromId, alias: 'derivation' }),
    policyDecisionLinks: r.many.policyDecisionChips({
      from: r.chips.id,
      to: r.policyDecisionChips.chipId,
    }),
    demandSignals: r.many.demandSignals({ from: r.chips.id, to: r.demandSignals.chipId }),
  },
  policyDecisions: {
    chipLinks: r.many.policyDecisionChips({
      from: r.policyDecisions.id,
      to: r.policyDecisionChips.decisionId,
    }),
    companies: r.many.companies({
      from: r.policyDecisions.id.through(r.policyDecisionCompanies.decisionId),
      to: r.companies.id.through(r.policyDecisionCompanies.companyId),
    }),
    supersedes: r.one.policyDecisions({
      from: r.policyDecisions.supersedesId,
      to: r.policyDecisions.id,
      alias: 'supersession',
    }),
    supersededBy: r.many.policyDecisions({
      from: r.policyDecisions.id,
      to: r.policyDecisions.supersedesId,
      alias: 'supersession',
    }),
    updates: r.many.policyDecisionUpdates({
      from: r.policyDecisions.id,
      to: r.policyDecisionUpdates.decisionId,
    }),
  },
  policyDecisionChips: {
    decision: r.one.policyDecisions({
      from: r.policyDecisionChips.decisionId,
      to: r.policyDecisions.id,
      optional: false,
    }),
    chip: r.one.chips({ from: r.policyDecisionChips.chipId, to: r.chips.id, optional: false }),
  },
  policyDecisionCompanies: {
    decision: r.one.policyDecisions({
      from: r.policyDecisionCompanies.decisionId,
      to: r.policyDecisions.id,
      optional: false,
    }),
    company: r.one.companies({
      from: r.policyDecisionCompanies.companyId,
      to: r.companies.id,
      optional: false,
    }),
  },
  policyDecisionUpdates: {
    decision: r.one.policyDecisions({
      from: r.policyDecisionUpdates.decisionId,
      to: r.policyDecisions.id,
      optional: false,
    }),
  },
  demandSignals: {
    chip: r.one.chips({ from: r.demandSignals.chipId, to: r.chips.id }),
    companyLinks: r.many.demandSignalCompanies({
      from: r.demandSignals.id,
      to: r.demandSignalCompanies.signalId,
    }),
    companies: r.many.companies({
      from: r.demandSignals.id.through(r.demandSignalCompanies.signalId),
      to: r.companies.id.through(r.demandSignalCompanies.companyId),
    }),
  },
  demandSignalCompanies: {
    signal: r.one.demandSignals({
      from: r.demandSignalCompanies.signalId,
      to: r.demandSignals.id,
      optional: false,
    }),
    company: r.one.companies({
      from: r.demandSignalCompanies.companyId,
      to: r.companies.id,
      optional: false,
    }),
  },
}));

export type Relations = typeof relations;
