/**
 * `Company`: designers, foundries, memory suppliers, buyers and domestic alternatives, with the
 * chips they design and the decisions and demand signals that name them.
 * Source: the curated store (`companies`), seeded from `src/db/seed/dataset.json`.
 */
import { and, inArray, type SQL, sql } from 'drizzle-orm';
import type { PgColumn } from 'drizzle-orm/pg-core';
import { builder, connectionComplexity, nodeConnection } from '../builder.js';
import { companies } from '../db/schema.js';
import { type CompanyRow, upsertCompany } from '../db/writes/reference.js';
import { ChipConnection } from './chip.js';
import {
  DemandSignalConnection,
  DemandSignalFilter,
  demandSignalFilterSql,
} from './demand-signal.js';
import { CompanyRole, FactConfidence } from './enums.js';
import {
  PolicyDecisionConnection,
  PolicyDecisionFilter,
  policyDecisionFilterSql,
} from './policy-decision.js';
import { mutationResult } from './results.js';

/** One stock listing. */
export const Listing = builder
  .objectRef<{ ticker: string; exchange: string; primary: boolean; note?: string | null }>(
    'Listing',
  )
  .implement({
    description: 'A stock listing of a company.',
    fields: (t) => ({
      ticker: t.exposeString('ticker', {
        description: 'Ticker symbol on that exchange, e.g. `NVDA`, `0700`.',
      }),
      exchange: t.exposeString('exchange', {
        description: 'Exchange, e.g. `NASDAQ`, `HKEX`, `SSE STAR`.',
      }),
      primary: t.exposeBoolean('primary', { description: 'True for the primary listing.' }),
      note: t.string({
        nullable: true,
        description: 'What kind of listing this is when not ordinary shares, e.g. `ADR`.',
        resolve: (listing) => listing.note ?? null,
      }),
    }),
  });

/** Filter for `Query.companies`. */
export const CompanyFilter = builder.inputType('CompanyFilter', {
  description: 'Narrows a list of companies. All given conditions must hold.',
  fields: (t) => ({
    country: t.field({
      type: ['CountryCode'],
      description: 'Headquarters in any of these countries.',
    }),
    role: t.field({ type: [CompanyRole], description: 'Has any of these roles.' }),
  }),
});

type CompanyFilterShape = { country?: string[] | null; role?: string[] | null } | null | undefined;
type CompanyColumns = { country: PgColumn; roles: PgColumn };

/** The `CompanyFilter` as SQL over `table` (the real table or a query's alias). */
export function companyFilterSql(
  table: CompanyColumns,
  filter: CompanyFilterShape,
): SQL | undefined {
  if (!filter) return undefined;
  const conditions: SQL[] = [];
  if (filter.country?.length) conditions.push(inArray(table.country, filter.country));
  if (filter.role?.length) {
    conditions.push(sql`${table.roles} && ${sql.param(filter.role)}::company_role[]`);
  }
  return conditions.length ? and(...conditions) : undefined;
}

/** Left-pads an SEC CIK to the 10 digits EDGAR uses in URLs and headers. */
export const padCik = (cik: string) => cik.padStart(10, '0');

export const Company = builder.drizzleNode('companies', {
  name: 'Company',
  // Load only the columns the selected fields declare (and the slug the global ID is made
  // of), not the whole row.
  select: { columns: { slug: true } },
  description:
    'A company in the AI-chip story: a chip designer (Nvidia), a foundry (TSMC), a memory ' +
    'supplier (SK hynix), a buyer (ByteDance) or a domestic alternative (Huawei). Curated, ' +
    'with the source each fact was checked in.',
  id: {
    column: (company) => company.slug,
    description: 'Global ID: base64 of `Company:<slug>`.',
  },
  fields: (t) => ({
    slug: t.exposeString('slug', {
      description: 'Stable human key, e.g. `nvidia`. Immutable; use it in filters and lookups.',
    }),
    name: t.exposeString('name', {
      description: 'Legal or common name, e.g. `NVIDIA Corporation`.',
    }),
    country: t.field({
      type: 'CountryCode',
      description: 'Country of headquarters (ISO 3166-1 alpha-2).',
      select: { columns: { country: true } },
      resolve: (company) => company.country,
    }),
    roles: t.field({
      type: [CompanyRole],
      description: 'Roles in the supply chain, primary role first.',
      select: { columns: { roles: true } },
      resolve: (company) => company.roles,
    }),
    listings: t.field({
      type: [Listing],
      description: 'Stock listings, primary first. Empty for private companies.',
      select: { columns: { listings: true } },
      resolve: (company) => company.listings,
    }),
    ticker: t.string({
      nullable: true,
      description: 'Ticker of the primary listing (null for private companies).',
      select: { columns: { listings: true } },
      resolve: (company) => company.listings.find((l) => l.primary)?.ticker ?? null,
    }),
    exchange: t.string({
      nullable: true,
      description: 'Exchange of the primary listing (null for private companies).',
      select: { columns: { listings: true } },
      resolve: (company) => company.listings.find((l) => l.primary)?.exchange ?? null,
    }),
    secCik: t.string({
      nullable: true,
      description:
        'SEC Central Index Key, 10 digits zero-padded as EDGAR uses it (e.g. `0001045810`); ' +
        'null when the company does not file with the SEC.',
      select: { columns: { secCik: true } },
      resolve: (company) => (company.secCik ? padCik(company.secCik) : null),
    }),
    secFilerType: t.exposeString('secFilerType', {
      nullable: true,
      description: 'How the company files with the SEC, e.g. `domestic (10-K/10-Q/8-K)`.',
    }),
    sourceUrl: t.field({
      type: 'URL',
      nullable: true,
      description: 'Where the facts about this company were checked.',
      select: { columns: { sourceUrl: true } },
      resolve: (company) => company.sourceUrl,
    }),
    confidence: t.field({
      type: FactConfidence,
      description: 'VERIFIED when confirmed in `sourceUrl`, RECALLED otherwise.',
      select: { columns: { confidence: true } },
      resolve: (company) => company.confidence,
    }),
  }),
});

builder.drizzleObjectFields(Company, (t) => ({
  chipsDesigned: t.relatedConnection(
    'chipsDesigned',
    {
      description: 'Chips this company designs, by name, then slug.',
      complexity: connectionComplexity(['text', 'slug']),
      totalCount: true,
      query: { orderBy: { name: 'asc', slug: 'asc' } },
    },
    ChipConnection,
  ),
  demandSignals: t.relatedConnection(
    'demandSignals',
    {
      description: 'Demand signals naming this company, newest first (ties by slug).',
      complexity: connectionComplexity(['date', 'slug']),
      totalCount: true,
      args: { filter: t.arg({ type: DemandSignalFilter, description: 'Narrows the signals.' }) },
      query: (args) => ({
        where: { RAW: (table) => demandSignalFilterSql(table, args.filter) ?? sql`true` },
        orderBy: { observedOn: 'desc', slug: 'desc' },
      }),
    },
    DemandSignalConnection,
  ),
  policyDecisions: t.relatedConnection(
    'policyDecisions',
    {
      description:
        'Policy decisions naming this company, newest announcement first (ties by slug).',
      complexity: connectionComplexity(['date', 'slug']),
      totalCount: true,
      args: {
        filter: t.arg({ type: PolicyDecisionFilter, description: 'Narrows the decisions.' }),
      },
      query: (args) => ({
        where: { RAW: (table) => policyDecisionFilterSql(table, args.filter) ?? sql`true` },
        orderBy: { announcedOn: 'desc', slug: 'desc' },
      }),
    },
    PolicyDecisionConnection,
  ),
}));

/** The connection type shared by every list of companies. */
export const CompanyConnection = nodeConnection(Company, 'Company', 'companies');

builder.queryFields((t) => ({
  company: t.drizzleField({
    type: 'companies',
    nullable: true,
    description: 'A company by slug, e.g. `nvidia`; null when there is none.',
    args: { slug: t.arg.string({ required: true, description: 'The company slug.' }) },
    resolve: (query, _root, args, ctx) =>
      ctx.db.query.companies.findFirst(query({ where: { slug: args.slug } })),
  }),
  companies: t.drizzleConnection(
    {
      type: 'companies',
      description: 'All companies, by name, then slug (byte order).',
      complexity: connectionComplexity(['text', 'slug']),
      args: { filter: t.arg({ type: CompanyFilter, description: 'Narrows the list.' }) },
      totalCount: (_parent, args, ctx) =>
        ctx.db.$count(companies, companyFilterSql(companies, args.filter)),
      resolve: (query, _parent, args, ctx) =>
        ctx.db.query.companies.findMany(
          query({
            where: { RAW: (table) => companyFilterSql(table, args.filter) ?? sql`true` },
            orderBy: { name: 'asc', slug: 'asc' },
          }),
        ),
    },
    CompanyConnection,
  ),
}));

export const ListingInput = builder.inputType('ListingInput', {
  description: 'A stock listing of a company.',
  fields: (t) => ({
    ticker: t.string({ required: true, description: 'Ticker symbol, e.g. `NVDA`.' }),
    exchange: t.string({ required: true, description: 'Exchange, e.g. `NASDAQ`.' }),
    primary: t.boolean({
      required: true,
      description: 'True for the primary listing (at most one).',
    }),
    note: t.string({ description: 'What kind of listing when not ordinary shares, e.g. `ADR`.' }),
  }),
});

export const UpsertCompanyInput = builder.inputType('UpsertCompanyInput', {
  description:
    'A company to create or update, keyed by `slug`. Required fields are always written. An ' +
    'optional field left out keeps its stored value; an explicit null clears it.',
  fields: (t) => ({
    slug: t.string({
      required: true,
      description:
        'The key: lower-case letters and digits joined by single hyphens, at most 100 ' +
        'characters, e.g. `nvidia`. A new slug creates the company.',
    }),
    name: t.string({ required: true, description: 'Legal or common name.' }),
    country: t.field({
      type: 'CountryCode',
      required: true,
      description: 'Country of headquarters, e.g. `US`.',
    }),
    roles: t.field({
      type: [CompanyRole],
      required: true,
      description: 'Roles in the supply chain, primary first (at least one, each once).',
    }),
    listings: t.field({
      type: [ListingInput],
      description: 'All stock listings (replaces the stored list); stored primary first.',
    }),
    secCik: t.string({
      description: 'SEC Central Index Key, 1 to 10 digits, padded or not (e.g. `0001045810`).',
    }),
    secFilerType: t.string({ description: 'How the company files with the SEC.' }),
    sourceUrl: t.field({ type: 'URL', description: 'Where the facts were checked.' }),
    confidence: t.field({
      type: FactConfidence,
      required: true,
      description: 'VERIFIED when confirmed in `sourceUrl`, RECALLED otherwise.',
    }),
  }),
});

const UpsertCompanySuccess = builder
  .objectRef<{ company: CompanyRow; created: boolean }>('UpsertCompanySuccess')
  .implement({
    description: 'The company was created or updated.',
    fields: (t) => ({
      company: t.field({
        type: Company,
        description: 'The company as stored now.',
        resolve: (result) => result.company as never,
      }),
      created: t.exposeBoolean('created', {
        description: 'True when the slug was new and the company was created.',
      }),
    }),
  });

builder.mutationField('upsertCompany', (t) =>
  t.field({
    type: mutationResult(
      'UpsertCompanyResult',
      UpsertCompanySuccess,
      'The stored company, or why nothing was written.',
    ),
    description:
      'Creates a company or corrects one, keyed by slug. Needs the `write` scope. ' +
      'ValidationError for bad fields.',
    args: {
      input: t.arg({
        type: UpsertCompanyInput,
        required: true,
        description: 'The company, keyed by slug.',
      }),
    },
    resolve: (_root, { input }, ctx) => upsertCompany(ctx.db, input),
  }),
);
