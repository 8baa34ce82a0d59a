/**
 * The chipgate store: drizzle table definitions for PostgreSQL 15+ (and PGlite).
 *
 * Table and column names are part of the public contract (other systems write to them and
 * operators read them with psql): plural snake_case tables, snake_case columns, a unique
 * immutable `slug` per domain table, `created_at`/`updated_at` as `timestamptz`, money as
 * `numeric`, calendar dates as `date`. Every enum is a Postgres enum type. Text that is ordered
 * (slugs, names) uses the `C` collation so every server sorts it byte-wise, like PGlite.
 *
 * Triggers (history, `updated_at`, event sequencing) are hand-written SQL in a custom
 * drizzle-kit migration, see `drizzle/`.
 *
 * This module is the schema's entry point (drizzle-kit's `schema`, the relations): the tables
 * of partner access (API keys, trusted documents, usage) live in `schema-access.ts` and are
 * re-exported here.
 */
import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  char,
  check,
  customType,
  date,
  doublePrecision,
  index,
  integer,
  jsonb,
  numeric,
  type PgColumn,
  pgEnum,
  pgSequence,
  pgTable,
  primaryKey,
  smallint,
  text,
  timestamp,
} from 'drizzle-orm/pg-core';

import { TEXT_LIMITS } from './limits.js';

export * from './schema-access.js';
export * from './schema-sync.js';

/**
 * Text compared and ordered byte-wise, identical on every server and PGlite. drizzle has no
 * column collation, so the `COLLATE "C"` is applied by the migration `collate_c` (a plain
 * `text` column here keeps the type drizzle and Pothos understand).
 */
const textC = (name: string) => text(name);

/** ISO 3166-1 alpha-2 country code, upper case (e.g. `US`, `CN`). */
const countryCode = customType<{ data: string; driverData: string }>({
  dataType: () => 'char(2)',
});

export const companyRole = pgEnum('company_role', [
  'DESIGNER',
  'FOUNDRY',
  'MEMORY_SUPPLIER',
  'BUYER',
  'DOMESTIC_ALTERNATIVE',
]);
export const policyKind = pgEnum('policy_kind', [
  'EXPORT_RULE',
  'LICENSE',
  'IMPORT_GUIDANCE',
  'BAN',
  'INVESTIGATION',
  'TARIFF',
]);
export const policyStatus = pgEnum('policy_status', [
  'PROPOSED',
  'UNDER_REVIEW',
  'APPROVED',
  'IN_EFFECT',
  'SUPERSEDED',
  'RESCINDED',
  'REJECTED',
  'SUSPENDED',
]);
export const policyEffect = pgEnum('policy_effect', [
  'PERMITTED',
  'PERMITTED_WITH_CONDITIONS',
  'LICENSE_REQUIRED',
  'RESTRICTED',
  'DISCOURAGED',
  'BANNED',
  'UNDER_REVIEW',
]);
export const demandSignalKind = pgEnum('demand_signal_kind', [
  'ORDER',
  'INTEREST',
  'PRODUCTION_RAMP',
  'REVENUE',
  'WRITE_DOWN',
]);
export const signalDirection = pgEnum('signal_direction', ['POSITIVE', 'NEGATIVE', 'NEUTRAL']);
export const signalStrength = pgEnum('signal_strength', ['LOW', 'MEDIUM', 'HIGH']);
export const factConfidence = pgEnum('fact_confidence', ['VERIFIED', 'RECALLED']);

export type CompanyRole = (typeof companyRole.enumValues)[number];
export type PolicyKind = (typeof policyKind.enumValues)[number];
export type PolicyStatus = (typeof policyStatus.enumValues)[number];
export type PolicyEffect = (typeof policyEffect.enumValues)[number];
export type DemandSignalKind = (typeof demandSignalKind.enumValues)[number];
export type SignalDirection = (typeof signalDirection.enumValues)[number];
export type SignalStrength = (typeof signalStrength.enumValues)[number];
export type FactConfidence = (typeof factConfidence.enumValues)[number];

/** One stock listing of a company, as stored in `companies.listings` (primary first). */
export interface Listing {
  ticker: string;
  exchange: string;
  primary: boolean;
  note?: string | null;
}

/**
 * Event sequence shared by `policy_decision_updates` and `demand_signals`. The insert trigger
 * takes a transaction-level advisory lock before drawing from it, so sequence order is commit
 * order: "everything after the last event_seq I saw" is a safe catch-up rule.
 */
export const eventSeq = pgSequence('chipgate_event_seq');

const eventSeqColumn = () =>
  bigint('event_seq', { mode: 'number' })
    .notNull()
    .unique()
    .default(sql`nextval('chipgate_event_seq')`);

const timestamps = {
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
};

const provenance = {
  sourceUrl: text('source_url'),
  confidence: factConfidence('confidence').notNull(),
  notes: text('notes'),
};

const slugCheck = (name: string, column: unknown) =>
  check(
    name,
    sql`${column} ~ '^[a-z0-9]+(-[a-z0-9]+)*$' and length(${column}) <= ${sql.raw(String(TEXT_LIMITS.slug))}`,
  );

/**
 * A `<table>_<column>_finite` CHECK for every floating-point and `numeric` column among
 * `columns`: NaN and both infinities are refused (PostgreSQL orders NaN above every number and
 * Infinity, so one range test refuses all three; null passes). A non-finite figure is no fact
 * (and JSON cannot carry it: every read of the row would fail), whoever writes it.
 */
function finiteChecks(table: string, columns: Record<string, PgColumn>) {
  return (
    Object.values(columns)
      // `columnType`, not `getSQLType()`: the columns handed to a table's extra config recurse
      // forever in `getSQLType()` (drizzle-orm 1.0.0-rc.2).
      .filter((column) => /^Pg(DoublePrecision|Real|Numeric)/.test(column.columnType))
      .map((column) =>
        check(
          `${table}_${column.name}_finite`,
          sql`${column} > '-Infinity' and ${column} < 'Infinity'`,
        ),
      )
  );
}

/** Chip designers, foundries, memory suppliers, buyers and domestic alternatives. */
export const companies = pgTable(
  'companies',
  {
    id: integer('id').primaryKey().generatedAlwaysAsIdentity(),
    slug: textC('slug').notNull().unique(),
    name: textC('name').notNull(),
    country: countryCode('country').notNull(),
    /** Primary role first, then secondary roles. */
    roles: companyRole('roles').array().notNull(),
    listings: jsonb('listings').$type<Listing[]>().notNull().default(sql`'[]'::jsonb`),
    /** SEC Central Index Key, digits only and unpadded as stored (padded to 10 on output). */
    secCik: text('sec_cik'),
    secFilerType: text('sec_filer_type'),
    ...provenance,
    ...timestamps,
  },
  (t) => [
    slugCheck('companies_slug_format', t.slug),
    check('companies_country_format', sql`${t.country} ~ '^[A-Z]{2}$'`),
    check('companies_sec_cik_format', sql`${t.secCik} ~ '^[0-9]{1,10}$'`),
    index('companies_name_slug_idx').on(t.name, t.slug),
  ],
);

/** AI accelerators with the specifications BIS export rules are written against. */
export const chips = pgTable(
  'chips',
  {
    id: integer('id').primaryKey().generatedAlwaysAsIdentity(),
    slug: textC('slug').notNull().unique(),
    name: textC('name').notNull(),
    designerId: integer('designer_id')
      .notNull()
      .references(() => companies.id),
    foundryId: integer('foundry_id').references(() => companies.id),
    derivedFromId: integer('derived_from_id').references((): never => chips.id as never),
    architecture: text('architecture'),
    launchYear: smallint('launch_year'),
    announcedOn: date('announced_on', { mode: 'string' }),
    processNode: text('process_node'),
    memoryGb: doublePrecision('memory_gb'),
    memoryType: text('memory_type'),
    memoryBandwidthTbs: doublePrecision('memory_bandwidth_tbs'),
    fp16DenseTflops: doublePrecision('fp16_dense_tflops'),
    fp8DenseTflops: doublePrecision('fp8_dense_tflops'),
    tdpWatts: integer('tdp_watts'),
    dieAreaMm2: doublePrecision('die_area_mm2'),
    interconnectGbs: doublePrecision('interconnect_gbs'),
    /** BIS Total Processing Performance (ECCN 3A090): dense TOPS x operand bit length. */
    tpp: doublePrecision('tpp'),
    /** TPP divided by die area in mm². */
    performanceDensity: doublePrecision('performance_density'),
    /** Names of the spec columns computed by the dataset rather than quoted from a source. */
    derivedFields: text('derived_fields').array().notNull().default(sql`'{}'::text[]`),
    designedForChinaMarket: boolean('designed_for_china_market').notNull().default(false),
    exportControlNote: text('export_control_note'),
    ...provenance,
    ...timestamps,
  },
  (t) => [
    slugCheck('chips_slug_format', t.slug),
    ...finiteChecks('chips', t),
    // A designer's chips by name, read in order from the index.
    index('chips_designer_order_idx').on(t.designerId, t.name, t.slug),
    index('chips_foundry_id_idx').on(t.foundryId),
    index('chips_derived_from_id_idx').on(t.derivedFromId),
    index('chips_name_slug_idx').on(t.name, t.slug),
    index('chips_tpp_idx').on(t.tpp),
  ],
);

/** Government decisions about AI chips: export rules, licenses, import guidance, bans, ... */
export const policyDecisions = pgTable(
  'policy_decisions',
  {
    id: integer('id').primaryKey().generatedAlwaysAsIdentity(),
    slug: textC('slug').notNull().unique(),
    title: text('title').notNull(),
    summary: text('summary'),
    /** Who decided (ISO 3166-1 alpha-2). */
    jurisdiction: countryCode('jurisdiction').notNull(),
    /** Where the decision applies (ISO 3166-1 alpha-2 codes). */
    destinations: text('destinations').array().notNull().default(sql`'{}'::text[]`),
    authority: text('authority').notNull(),
    kind: policyKind('kind').notNull(),
    status: policyStatus('status').notNull(),
    announcedOn: date('announced_on', { mode: 'string' }).notNull(),
    effectiveOn: date('effective_on', { mode: 'string' }),
    publishedOn: date('published_on', { mode: 'string' }),
    revenueSharePercent: doublePrecision('revenue_share_percent'),
    tariffPercent: doublePrecision('tariff_percent'),
    federalRegisterDocumentNumber: text('federal_register_document_number'),
    federalRegisterCitation: text('federal_register_citation'),
    regulationIdentifierNumber: text('regulation_identifier_number'),
    presidentialDocumentNumber: text('presidential_document_number'),
    supersedesId: integer('supersedes_id').references((): never => policyDecisions.id as never),
    ...provenance,
    ...timestamps,
  },
  (t) => [
    slugCheck('policy_decisions_slug_format', t.slug),
    ...finiteChecks('policy_decisions', t),
    check('policy_decisions_jurisdiction_format', sql`${t.jurisdiction} ~ '^[A-Z]{2}$'`),
    check(
      'policy_decisions_effective_after_announced',
      sql`${t.effectiveOn} is null or ${t.effectiveOn} >= ${t.announcedOn}`,
    ),
    index('policy_decisions_announced_on_slug_idx').on(t.announcedOn, t.slug),
    index('policy_decisions_supersedes_id_idx').on(t.supersedesId),
    index('policy_decisions_federal_register_document_number_idx').on(
      t.federalRegisterDocumentNumber,
    ),
  ],
);

/**
 * The sort keys of a decision (`announced_on`, `slug`) copied onto its link rows, so that "a
 * chip's (or a company's) decisions, newest first" is read in order from one index instead of
 * joining every link to its decision and sorting. A trigger fills them on every insert or
 * update of a link row and follows changes of the decision, whoever writes (see the
 * `link_sort_keys` migration); writers never set them.
 */
const decisionSortKeys = () => ({
  /** Copy of the decision's `announced_on`. */
  decisionAnnouncedOn: date('decision_announced_on', { mode: 'string' }),
  /** Copy of the decision's `slug` (`C` collation). */
  decisionSlug: textC('decision_slug'),
});

/** Which chips a decision names, and what it does to each (for the destinations it covers). */
export const policyDecisionChips = pgTable(
  'policy_decision_chips',
  {
    decisionId: integer('decision_id')
      .notNull()
      .references(() => policyDecisions.id, { onDelete: 'cascade' }),
    chipId: integer('chip_id')
      .notNull()
      .references(() => chips.id, { onDelete: 'cascade' }),
    effect: policyEffect('effect').notNull(),
    ...decisionSortKeys(),
  },
  (t) => [
    primaryKey({ columns: [t.decisionId, t.chipId] }),
    // A chip's decisions, newest first, read in order from the index (see decisionSortKeys).
    index('policy_decision_chips_chip_order_idx').on(
      t.chipId,
      t.decisionAnnouncedOn,
      t.decisionSlug,
    ),
  ],
);

/** Companies a decision affects. */
export const policyDecisionCompanies = pgTable(
  'policy_decision_companies',
  {
    decisionId: integer('decision_id')
      .notNull()
      .references(() => policyDecisions.id, { onDelete: 'cascade' }),
    companyId: integer('company_id')
      .notNull()
      .references(() => companies.id, { onDelete: 'cascade' }),
    ...decisionSortKeys(),
  },
  (t) => [
    primaryKey({ columns: [t.decisionId, t.companyId] }),
    // A company's decisions, newest first, read in order from the index.
    index('policy_decision_companies_company_order_idx').on(
      t.companyId,
      t.decisionAnnouncedOn,
      t.decisionSlug,
    ),
  ],
);

/**
 * Status history of policy decisions. Written only by the trigger on `policy_decisions`
 * (insert, and update of `status`), so every writer is covered. `event_seq` is assigned under a
 * transaction-level advisory lock, so its order is commit order (the subscription cursor).
 */
export const policyDecisionUpdates = pgTable(
  'policy_decision_updates',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    decisionId: integer('decision_id')
      .notNull()
      .references(() => policyDecisions.id, { onDelete: 'cascade' }),
    fromStatus: policyStatus('from_status'),
    toStatus: policyStatus('to_status').notNull(),
    occurredAt: timestamp('occurred_at', { withTimezone: true }).notNull(),
    note: text('note'),
    eventSeq: eventSeqColumn(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index('policy_decision_updates_decision_id_occurred_at_idx').on(
      t.decisionId,
      t.occurredAt,
      t.id,
    ),
    index('policy_decision_updates_occurred_at_idx').on(t.occurredAt),
  ],
);

/** Market evidence: orders, interest, production ramps, reported revenue, write-downs. */
export const demandSignals = pgTable(
  'demand_signals',
  {
    id: integer('id').primaryKey().generatedAlwaysAsIdentity(),
    slug: textC('slug').notNull().unique(),
    chipId: integer('chip_id').references(() => chips.id),
    kind: demandSignalKind('kind').notNull(),
    observedOn: date('observed_on', { mode: 'string' }).notNull(),
    quantityUnits: integer('quantity_units'),
    /** US dollars, exact. */
    valueUsd: numeric('value_usd'),
    /** The figure as reported when the source gave another currency (amount, exact). */
    valueOriginalAmount: numeric('value_original_amount'),
    /** ISO 4217 currency of `value_original_amount`, e.g. `CNY`. */
    valueOriginalCurrency: char('value_original_currency', { length: 3 }),
    direction: signalDirection('direction'),
    strength: signalStrength('strength'),
    reportedBy: text('reported_by'),
    summary: text('summary'),
    eventSeq: eventSeqColumn(),
    ...provenance,
    ...timestamps,
  },
  (t) => [
    slugCheck('demand_signals_slug_format', t.slug),
    ...finiteChecks('demand_signals', t),
    check('demand_signals_quantity_nonnegative', sql`${t.quantityUnits} >= 0`),
    // A chip's signals, newest first, read in order from the index.
    index('demand_signals_chip_order_idx').on(t.chipId, t.observedOn, t.slug),
    index('demand_signals_observed_on_slug_idx').on(t.observedOn, t.slug),
  ],
);

/** Companies a demand signal names (buyers and suppliers), in the order the source gives. */
export const demandSignalCompanies = pgTable(
  'demand_signal_companies',
  {
    signalId: integer('signal_id')
      .notNull()
      .references(() => demandSignals.id, { onDelete: 'cascade' }),
    companyId: integer('company_id')
      .notNull()
      .references(() => companies.id, { onDelete: 'cascade' }),
    position: smallint('position').notNull().default(0),
    /** Copy of the signal's `observed_on`, kept by a trigger (see `decisionSortKeys`). */
    signalObservedOn: date('signal_observed_on', { mode: 'string' }),
    /** Copy of the signal's `slug` (`C` collation), kept by a trigger. */
    signalSlug: textC('signal_slug'),
  },
  (t) => [
    primaryKey({ columns: [t.signalId, t.companyId] }),
    // A company's signals, newest first, read in order from the index.
    index('demand_signal_companies_company_order_idx').on(
      t.companyId,
      t.signalObservedOn,
      t.signalSlug,
    ),
  ],
);

/**
 * Idempotency records of create mutations: the first result of a `(operation, key)` pair is
 * kept for 24 hours. `request_hash` is a SHA-256 (hex) of the canonical input, so the same key
 * with a different input is told apart; `result` is what the mutation returned (JSON).
 */
export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    operation: text('operation').notNull(),
    key: text('key').notNull(),
    requestHash: text('request_hash').notNull(),
    result: jsonb('result').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.operation, t.key] }),
    index('idempotency_keys_created_at_idx').on(t.createdAt),
  ],
);
