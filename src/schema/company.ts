/**
 * `Company`: designers, foundries, memory suppliers, buyers and domestic alternatives, with the
 * chips they design and the decisions and demand signals that name them.
 * Source: the curated store (`companies`), seeded from `src/db/seed/dataset.json`.
 */

import { builder, nodeConnection } from '../builder.js';
import { textComplexity } from '../cost.js';
import { TEXT_LIMITS } from '../db/limits.js';
import { lists } from '../db/lists.js';
import type { Listing as ListingRow } from '../db/schema.js';
import { type CompanyRow, upsertCompany } from '../db/writes/reference.js';
import { describedLimit, textLimit } from '../input-limits.js';
import { computed, entity, lookup } from '../plan/metadata.js';
import { rootList } from './connections.js';
import { CompanyRole, FactConfidence } from './enums.js';
import { CompanyFilter } from './filters.js';
import { mutationResult } from './results.js';

/** One stock listing. */
export const Listing = builder.objectRef<ListingRow>('Listing').implement({
  description: 'A stock listing of a company.',
  fields: (t) => ({
    ticker: t.exposeString('ticker', {
      complexity: textComplexity('ticker'),
      description: 'Ticker symbol on that exchange, e.g. `NVDA`, `0700`.',
    }),
    exchange: t.exposeString('exchange', {
      complexity: textComplexity('exchange'),
      description: 'Exchange, e.g. `NASDAQ`, `HKEX`, `SSE STAR`.',
    }),
    primary: t.exposeBoolean('primary', {
      description: 'True for the primary listing.',
    }),
    note: t.exposeString('note', {
      complexity: textComplexity('shortText'),
      nullable: true,
      description: 'What kind of listing this is when not ordinary shares, e.g. `ADR`.',
    }),
  }),
});

/** The primary listing among a company's listings, if any. */
const primaryListing = (listings: readonly ListingRow[]) => listings.find((l) => l.primary);

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
      complexity: textComplexity('slug'),
      description: 'Stable human key, e.g. `nvidia`. Immutable; use it in filters and lookups.',
    }),
    name: t.exposeString('name', {
      complexity: textComplexity('shortText'),
      description: 'Legal or common name, e.g. `NVIDIA Corporation`.',
    }),
    country: t.expose('country', {
      type: 'CountryCode',
      description: 'Country of headquarters (ISO 3166-1 alpha-2).',
    }),
    roles: t.expose('roles', {
      type: [CompanyRole],
      description: 'Roles in the supply chain, primary role first.',
    }),
    listings: t.expose('listings', {
      type: [Listing],
      description: 'Stock listings, primary first. Empty for private companies.',
    }),
    ticker: t.string({
      complexity: textComplexity('ticker'),
      nullable: true,
      description: 'Ticker of the primary listing (null for private companies).',
      ...computed(['listings'], (company: { listings: ListingRow[] }) => {
        return primaryListing(company.listings)?.ticker ?? null;
      }),
    }),
    exchange: t.string({
      complexity: textComplexity('exchange'),
      nullable: true,
      description: 'Exchange of the primary listing (null for private companies).',
      ...computed(['listings'], (company: { listings: ListingRow[] }) => {
        return primaryListing(company.listings)?.exchange ?? null;
      }),
    }),
    secCik: t.string({
      nullable: true,
      description:
        'SEC Central Index Key, 10 digits zero-padded as EDGAR uses it (e.g. `0001045810`); ' +
        'null when the company does not file with the SEC.',
      ...computed(['secCik'], (company: { secCik: string | null }) =>
        company.secCik ? padCik(company.secCik) : null,
      ),
    }),
    secFilerType: t.exposeString('secFilerType', {
      complexity: textComplexity('shortText'),
      nullable: true,
      description: 'How the company files with the SEC, e.g. `domestic (10-K/10-Q/8-K)`.',
    }),
    sourceUrl: t.expose('sourceUrl', {
      complexity: textComplexity('url'),
      type: 'URL',
      nullable: true,
      description: 'Where the facts about this company were checked.',
    }),
    confidence: t.expose('confidence', {
      type: FactConfidence,
      description: 'VERIFIED when confirmed in `sourceUrl`, RECALLED otherwise.',
    }),
  }),
});

/** The connection type shared by every list of companies. */
export const CompanyConnection = nodeConnection(Company, 'Company', 'companies');

builder.queryFields((t) => ({
  company: t.drizzleField({
    type: 'companies',
    nullable: true,
    description: 'A company by slug, e.g. `nvidia`; null when there is none.',
    args: { slug: t.arg.string({ required: true, ...textLimit('slug', 'The company slug.') }) },
    extensions: lookup('companies', 'slug', 'slug'),
    resolve: (query, _root, args, ctx) =>
      ctx.db.query.companies.findFirst(query({ where: { slug: args.slug } })),
  }),
  companies: t.connection(
    {
      type: Company,
      description: 'All companies, by name, then slug (byte order).',
      args: { filter: t.arg({ type: CompanyFilter, description: 'Narrows the list.' }) },
      ...rootList<typeof Company.$inferType>(lists.companies, 'Company'),
    },
    CompanyConnection,
  ),
}));

export const ListingInput = builder.inputType('ListingInput', {
  description: 'A stock listing of a company.',
  fields: (t) => ({
    ticker: t.string({
      required: true,
      description: describedLimit('ticker', 'Ticker symbol, e.g. `NVDA`.'),
    }),
    exchange: t.string({
      required: true,
      description: describedLimit('exchange', 'Exchange, e.g. `NASDAQ`.'),
    }),
    primary: t.boolean({
      required: true,
      description: 'True for the primary listing (at most one).',
    }),
    note: t.string({
      description: describedLimit(
        'shortText',
        'What kind of listing when not ordinary shares, e.g. `ADR`.',
      ),
    }),
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
        `The key: lower-case letters and digits joined by single hyphens, at most ${TEXT_LIMITS.slug} ` +
        'characters, e.g. `nvidia`. A new slug creates the company.',
    }),
    name: t.string({
      required: true,
      description: describedLimit('shortText', 'Legal or common name.'),
    }),
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
    secFilerType: t.string({
      description: describedLimit('shortText', 'How the company files with the SEC.'),
    }),
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
        extensions: entity('companies', (result: { company: CompanyRow }) => result.company.id),
        resolve: (result) => result.company,
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
