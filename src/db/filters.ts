/**
 * Every list filter of the API, declared once (see `filter-kit.ts`): the GraphQL inputs
 * `CompanyFilter`, `ChipFilter`, `PolicyDecisionFilter` and `DemandSignalFilter`, their SQL,
 * and (for the two lists with subscriptions) the event attributes and matchers.
 */
import {
  anyOf,
  bound,
  column,
  contains,
  containsText,
  defineFilter,
  equals,
  type FilterValue,
  linkedSlugs,
  overlaps,
  referencedSlug,
} from './filter-kit.js';
import type { chips, companies, demandSignals, policyDecisions } from './schema.js';

type Companies = typeof companies;
type Chips = typeof chips;
type PolicyDecisions = typeof policyDecisions;
type DemandSignals = typeof demandSignals;

const companyCountry = column<Companies>('bpchar', (t) => t.country);
const companyRoles = column<Companies>('company_role', (t) => t.roles);

/** `CompanyFilter`: narrows `Query.companies`. */
export const companyFilter = defineFilter({
  name: 'CompanyFilter',
  description: 'Narrows a list of companies. All given conditions must hold.',
  attributes: { country: companyCountry, roles: companyRoles },
  fields: {
    country: anyOf('country', companyCountry, {
      input: 'CountryCode',
      description: 'Headquarters in any of these countries.',
    }),
    role: overlaps('roles', companyRoles, {
      input: 'CompanyRole',
      description: 'Has any of these roles.',
    }),
  },
});

const chipDesigner = referencedSlug<Chips>({ target: 'companies', key: (t) => t.designerId });
const chipArchitecture = column<Chips>('text', (t) => t.architecture);
const chipForChina = column<Chips>('boolean', (t) => t.designedForChinaMarket);
const chipTpp = column<Chips>('float8', (t) => t.tpp);

/** `ChipFilter`: narrows `Query.chips`. */
export const chipFilter = defineFilter({
  name: 'ChipFilter',
  description: 'Narrows a list of chips. All given conditions must hold.',
  attributes: {
    designer: chipDesigner,
    architecture: chipArchitecture,
    designedForChinaMarket: chipForChina,
    tpp: chipTpp,
  },
  fields: {
    designer: contains('designer', chipDesigner, {
      input: 'String',
      text: 'slug',
      description: 'Designed by this company (a company slug, e.g. `nvidia`).',
    }),
    architecture: containsText('architecture', chipArchitecture, {
      input: 'String',
      text: 'shortText',
      description: 'Architecture contains this text, ignoring case (e.g. `hopper`).',
    }),
    designedForChinaMarket: equals<Chips, boolean>('designedForChinaMarket', chipForChina, {
      input: 'Boolean',
      description: 'True: only chips cut down for China (A800, H20, ...); false: only the others.',
    }),
    minTpp: bound<Chips, number>('atLeast', 'tpp', chipTpp, {
      input: 'Float',
      description: 'TPP at least this (chips with unknown TPP are excluded).',
    }),
    maxTpp: bound<Chips, number>('atMost', 'tpp', chipTpp, {
      input: 'Float',
      description: 'TPP at most this (chips with unknown TPP are excluded).',
    }),
  },
});

const decisionJurisdiction = column<PolicyDecisions>('bpchar', (t) => t.jurisdiction);
const decisionDestinations = column<PolicyDecisions>('text', (t) => t.destinations);
const decisionStatus = column<PolicyDecisions>('policy_status', (t) => t.status);
const decisionKind = column<PolicyDecisions>('policy_kind', (t) => t.kind);
const decisionAnnouncedOn = column<PolicyDecisions>('date', (t) => t.announcedOn);
const decisionChips = linkedSlugs<PolicyDecisions>({
  link: 'policy_decision_chips',
  target: 'chips',
  from: 'decision_id',
  to: 'chip_id',
  id: (t) => t.id,
});
const decisionCompanies = linkedSlugs<PolicyDecisions>({
  link: 'policy_decision_companies',
  target: 'companies',
  from: 'decision_id',
  to: 'company_id',
  id: (t) => t.id,
});

/**
 * `PolicyDecisionFilter`: narrows lists of policy decisions and `policyDecisionUpdated`
 * (where `status` is the status the decision changed to).
 */
export const policyDecisionFilter = defineFilter({
  name: 'PolicyDecisionFilter',
  description: 'Narrows a list of policy decisions. All given conditions must hold.',
  attributes: {
    jurisdiction: decisionJurisdiction,
    destinations: decisionDestinations,
    status: decisionStatus,
    kind: decisionKind,
    chips: decisionChips,
    companies: decisionCompanies,
    announcedOn: decisionAnnouncedOn,
  },
  fields: {
    jurisdiction: anyOf('jurisdiction', decisionJurisdiction, {
      input: 'CountryCode',
      description: 'Decided by any of these governments (ISO 3166-1 alpha-2), e.g. `["US"]`.',
    }),
    destination: contains('destinations', decisionDestinations, {
      input: 'CountryCode',
      description: 'Applies to this destination country, e.g. `CN`.',
    }),
    status: anyOf('status', decisionStatus, {
      input: 'PolicyStatus',
      description: 'Currently in any of these statuses.',
    }),
    kind: anyOf('kind', decisionKind, {
      input: 'PolicyKind',
      description: 'Of any of these kinds.',
    }),
    chip: contains('chips', decisionChips, {
      input: 'String',
      text: 'slug',
      description: 'Names this chip (a chip slug, e.g. `h200`).',
    }),
    company: contains('companies', decisionCompanies, {
      input: 'String',
      text: 'slug',
      description: 'Names this company (a company slug, e.g. `nvidia`).',
    }),
    announcedFrom: bound<PolicyDecisions, string>('atLeast', 'announcedOn', decisionAnnouncedOn, {
      input: 'Date',
      description: 'Announced on or after this date.',
    }),
    announcedTo: bound<PolicyDecisions, string>('atMost', 'announcedOn', decisionAnnouncedOn, {
      input: 'Date',
      description: 'Announced on or before this date.',
    }),
  },
});

const signalKind = column<DemandSignals>('demand_signal_kind', (t) => t.kind);
const signalObservedOn = column<DemandSignals>('date', (t) => t.observedOn);
const signalChip = referencedSlug<DemandSignals>({ target: 'chips', key: (t) => t.chipId });
const signalCompanies = linkedSlugs<DemandSignals>({
  link: 'demand_signal_companies',
  target: 'companies',
  from: 'signal_id',
  to: 'company_id',
  id: (t) => t.id,
});

/** `DemandSignalFilter`: narrows lists of demand signals and `demandSignalRecorded`. */
export const demandSignalFilter = defineFilter({
  name: 'DemandSignalFilter',
  description: 'Narrows a list of demand signals. All given conditions must hold.',
  attributes: {
    kind: signalKind,
    chips: signalChip,
    companies: signalCompanies,
    observedOn: signalObservedOn,
  },
  fields: {
    kind: anyOf('kind', signalKind, {
      input: 'DemandSignalKind',
      description: 'Of any of these kinds.',
    }),
    chip: contains('chips', signalChip, {
      input: 'String',
      text: 'slug',
      description: 'About this chip (a chip slug, e.g. `h200`).',
    }),
    company: contains('companies', signalCompanies, {
      input: 'String',
      text: 'slug',
      description: 'Naming this company (a company slug, e.g. `bytedance`).',
    }),
    observedFrom: bound<DemandSignals, string>('atLeast', 'observedOn', signalObservedOn, {
      input: 'Date',
      description: 'Observed on or after this date.',
    }),
    observedTo: bound<DemandSignals, string>('atMost', 'observedOn', signalObservedOn, {
      input: 'Date',
      description: 'Observed on or before this date.',
    }),
  },
});

/** A `CompanyFilter` value. */
export type CompanyFilterValue = FilterValue<typeof companyFilter>;
/** A `ChipFilter` value. */
export type ChipFilterValue = FilterValue<typeof chipFilter>;
/** A `PolicyDecisionFilter` value. */
export type PolicyDecisionFilterValue = FilterValue<typeof policyDecisionFilter>;
/** A `DemandSignalFilter` value. */
export type DemandSignalFilterValue = FilterValue<typeof demandSignalFilter>;

/** Every declared filter, by GraphQL input name. */
export const FILTERS = {
  CompanyFilter: companyFilter,
  ChipFilter: chipFilter,
  PolicyDecisionFilter: policyDecisionFilter,
  DemandSignalFilter: demandSignalFilter,
} as const;
