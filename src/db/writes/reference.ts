/**
 * Upserts of reference data (companies, chips), keyed by slug. Required fields are always
 * written; an optional field that is absent keeps its stored value (null on insert), an
 * explicit null clears it. One statement after the checks: `insert ... on conflict (slug) do
 * update`, so concurrent upserts of one slug never fail.
 */
import { getColumns, sql } from 'drizzle-orm';
import { FieldIssues } from '../../errors.js';
import { type Database, queryRows } from '../client.js';
import { PLAIN_LIST_MAX } from '../limits.js';
import {
  type CompanyRole,
  chips,
  companies,
  type FactConfidence,
  type Listing,
} from '../schema.js';
import {
  checkDate,
  checkListSize,
  checkNumber,
  checkSlug,
  checkText,
  checkUnique,
  referenceTo,
  resolveReferences,
  type Transaction,
  throwIfAnyWithReferences,
} from './common.js';

/** A `companies` row. */
export type CompanyRow = typeof companies.$inferSelect;
/** A `chips` row. */
export type ChipRow = typeof chips.$inferSelect;

/** The columns to set on update: the given (not undefined) values, the slug excepted. */
function providedColumns<T extends Record<string, unknown>>(values: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(values).filter(([key, value]) => key !== 'slug' && value !== undefined),
  ) as Partial<T>;
}

/** Insert values: every undefined optional becomes null. */
function insertColumns<T extends Record<string, unknown>>(values: T): T {
  return Object.fromEntries(
    Object.entries(values).map(([key, value]) => [key, value === undefined ? null : value]),
  ) as T;
}

/** Whether the row came from the insert (true) or the update (false) of an upsert. */
const inserted = sql<boolean>`(xmax = 0)`;

/** `upsertCompany`'s input (the GraphQL `UpsertCompanyInput`). */
export interface UpsertCompanyInput {
  slug: string;
  name: string;
  country: string;
  roles: CompanyRole[];
  listings?: Listing[] | null;
  secCik?: string | null;
  secFilerType?: string | null;
  sourceUrl?: string | null;
  confidence: FactConfidence;
}

/**
 * Creates or updates the company `slug`. `secCik` is accepted padded or not and stored
 * unpadded. Throws `ValidationError` (slug, blank name, no roles or a role twice, a CIK that
 * is not 1-10 digits, listings with more than one primary or blank tickers, more than `PLAIN_LIST_MAX` listings).
 */
export async function upsertCompany(
  db: Database,
  input: UpsertCompanyInput,
): Promise<{ company: CompanyRow; created: boolean }> {
  const issues = new FieldIssues();
  checkSlug(issues, ['input', 'slug'], input.slug);
  checkText(issues, ['input', 'name'], input.name, 'shortText');
  if (input.roles.length === 0) issues.add(['input', 'roles'], 'Give at least one role.');
  checkUnique(issues, ['input', 'roles'], input.roles);
  if (input.secCik != null && !/^\d{1,10}$/.test(input.secCik)) {
    issues.add(['input', 'secCik'], 'Must be 1 to 10 digits, e.g. `0001045810`.');
  }
  checkText(issues, ['input', 'secFilerType'], input.secFilerType, 'shortText');
  const listings = input.listings?.map((listing) => ({
    ticker: listing.ticker,
    exchange: listing.exchange,
    primary: listing.primary,
    ...(listing.note != null ? { note: listing.note } : {}),
  }));
  listings?.forEach((listing, i) => {
    checkText(issues, ['input', 'listings', i, 'ticker'], listing.ticker, 'ticker');
    checkText(issues, ['input', 'listings', i, 'exchange'], listing.exchange, 'exchange');
    checkText(issues, ['input', 'listings', i, 'note'], listing.note, 'shortText');
  });
  checkListSize(issues, ['input', 'listings'], listings, 'listings');
  if ((listings?.filter((listing) => listing.primary).length ?? 0) > 1) {
    issues.add(['input', 'listings'], 'At most one listing can be primary.');
  }
  issues.throwIfAny();
  const values = {
    slug: input.slug,
    name: input.name.trim(),
    country: input.country,
    roles: input.roles,
    // Primary first, as the read side promises.
    listings: listings?.sort((a, b) => Number(b.primary) - Number(a.primary)),
    secCik:
      input.secCik === undefined ? undefined : (input.secCik?.replace(/^0+(?=\d)/, '') ?? null),
    secFilerType: input.secFilerType,
    sourceUrl: input.sourceUrl,
    confidence: input.confidence,
  };
  const [row] = await db
    .insert(companies)
    .values({ ...insertColumns(values), listings: values.listings ?? [] })
    .onConflictDoUpdate({ target: companies.slug, set: providedColumns(values) })
    .returning({ ...getColumns(companies), created: inserted });
  if (!row) throw new Error('upsertCompany: no row returned');
  const { created, ...company } = row;
  return { company, created };
}

/** Lock serializing changes of `chips.derived_from_id`, so two writers cannot close a cycle. */
const DERIVATION_LOCK = 7_301_001;

/**
 * Whether deriving `slug` from the chip `parentId` would close a cycle: walks `derivedFrom`
 * up from the parent (one recursive statement, after taking the transaction-level derivation
 * lock so a concurrent upsert cannot close a cycle with this one). Returns the line from the
 * parent up to `slug` (e.g. `b ← a`), or null when `slug` is not among the parent's ancestors.
 */
async function derivationLine(
  tx: Transaction,
  parentId: number,
  slug: string,
): Promise<string | null> {
  await tx.execute(sql`select pg_advisory_xact_lock(${DERIVATION_LOCK})`);
  const [row] = await queryRows<{ line: string | null; cycle: boolean | null }>(
    tx,
    sql`
    with recursive line(id, derived_from_id, slug, depth) as (
      select id, derived_from_id, slug, 1 from chips where id = ${parentId}
      union all
      select c.id, c.derived_from_id, c.slug, l.depth + 1
        from chips c join line l on c.id = l.derived_from_id
       where l.slug <> ${slug} and l.depth < 1000
    )
    select string_agg(slug, ' ← ' order by depth) as line,
           bool_or(slug = ${slug}) as cycle
      from line`,
  );
  return row?.cycle ? row.line : null;
}

/**
 * How many chips other than `slug` are derived from the chip `parentId` (under the derivation
 * lock `derivationLine` takes, so concurrent upserts count one after the other).
 */
async function otherDerivatives(tx: Transaction, parentId: number, slug: string): Promise<number> {
  const [row] = await queryRows<{ n: number }>(
    tx,
    sql`select count(*)::int as n from chips where derived_from_id = ${parentId} and slug <> ${slug}`,
  );
  return row?.n ?? 0;
}

/** `upsertChip`'s input (the GraphQL `UpsertChipInput`); `designer`, `foundry` and `derivedFrom` are slugs. */
export interface UpsertChipInput {
  slug: string;
  name: string;
  designer: string;
  foundry?: string | null;
  derivedFrom?: string | null;
  architecture?: string | null;
  launchYear?: number | null;
  announcedOn?: string | null;
  processNode?: string | null;
  memoryGb?: number | null;
  memoryType?: string | null;
  memoryBandwidthTBs?: number | null;
  fp16DenseTflops?: number | null;
  fp8DenseTflops?: number | null;
  tdpWatts?: number | null;
  dieAreaMm2?: number | null;
  interconnectGBs?: number | null;
  tpp?: number | null;
  performanceDensity?: number | null;
  designedForChinaMarket?: boolean | null;
  exportControlNote?: string | null;
  sourceUrl?: string | null;
  confidence: FactConfidence;
}

const NON_NEGATIVE = [
  'memoryGb',
  'memoryBandwidthTBs',
  'fp16DenseTflops',
  'fp8DenseTflops',
  'tdpWatts',
  'dieAreaMm2',
  'interconnectGBs',
  'tpp',
  'performanceDensity',
] as const;

/**
 * Creates or updates the chip `slug`. Throws `ValidationError` (slug, blank name, negative
 * or non-finite specifications, a launch year outside 1950-2100, an `announcedOn` outside 1900-2199, an
 * unknown designer, foundry or `derivedFrom` chip, a chip derived from itself or from one of
 * the chips derived from it, a parent that already has `PLAIN_LIST_MAX` derivatives).
 */
export async function upsertChip(
  db: Database,
  input: UpsertChipInput,
): Promise<{ chip: ChipRow; created: boolean }> {
  const issues = new FieldIssues();
  checkSlug(issues, ['input', 'slug'], input.slug);
  checkText(issues, ['input', 'name'], input.name, 'shortText');
  for (const field of ['architecture', 'processNode', 'memoryType'] as const) {
    checkText(issues, ['input', field], input[field], 'shortText');
  }
  checkText(issues, ['input', 'exportControlNote'], input.exportControlNote, 'longText');
  for (const field of NON_NEGATIVE) checkNumber(issues, ['input', field], input[field], 0);
  if (input.launchYear != null && (input.launchYear < 1950 || input.launchYear > 2100)) {
    issues.add(['input', 'launchYear'], `Must be between 1950 and 2100 (got ${input.launchYear}).`);
  }
  checkDate(issues, ['input', 'announcedOn'], input.announcedOn);
  if (input.derivedFrom === input.slug) {
    issues.add(['input', 'derivedFrom'], 'A chip cannot be derived from itself.');
  }
  const references = [
    ...referenceTo('companies', ['input', 'designer'], input.designer),
    ...referenceTo('companies', ['input', 'foundry'], input.foundry),
    ...referenceTo('chips', ['input', 'derivedFrom'], input.derivedFrom),
  ];
  await throwIfAnyWithReferences(db, issues, references);
  return db.transaction(async (tx) => {
    const { companies: companyIds, chips: chipIds } = await resolveReferences(
      tx,
      issues,
      references,
    );
    const parentId = input.derivedFrom ? chipIds.get(input.derivedFrom) : undefined;
    if (input.derivedFrom && parentId !== undefined) {
      const line = await derivationLine(tx, parentId, input.slug);
      if (line) {
        issues.add(
          ['input', 'derivedFrom'],
          `"${input.slug}" cannot be derived from "${input.derivedFrom}": that would make a derivation cycle (${input.slug} ← ${line}).`,
        );
      }
      const siblings = await otherDerivatives(tx, parentId, input.slug);
      if (siblings >= PLAIN_LIST_MAX) {
        issues.add(
          ['input', 'derivedFrom'],
          `"${input.derivedFrom}" already has ${siblings} derivatives, the most one chip may have (${PLAIN_LIST_MAX}).`,
        );
      }
    }
    issues.throwIfAny();
    const refId = (ids: Map<string, number>, slug: string | null | undefined) =>
      slug === undefined ? undefined : slug === null ? null : (ids.get(slug) ?? null);
    const values = {
      slug: input.slug,
      name: input.name.trim(),
      designerId: companyIds.get(input.designer) as number,
      foundryId: refId(companyIds, input.foundry),
      derivedFromId: refId(chipIds, input.derivedFrom),
      architecture: input.architecture,
      launchYear: input.launchYear,
      announcedOn: input.announcedOn,
      processNode: input.processNode,
      memoryGb: input.memoryGb,
      memoryType: input.memoryType,
      memoryBandwidthTbs: input.memoryBandwidthTBs,
      fp16DenseTflops: input.fp16DenseTflops,
      fp8DenseTflops: input.fp8DenseTflops,
      tdpWatts: input.tdpWatts,
      dieAreaMm2: input.dieAreaMm2,
      interconnectGbs: input.interconnectGBs,
      tpp: input.tpp,
      performanceDensity: input.performanceDensity,
      designedForChinaMarket: input.designedForChinaMarket ?? undefined,
      exportControlNote: input.exportControlNote,
      sourceUrl: input.sourceUrl,
      confidence: input.confidence,
    };
    const [row] = await tx
      .insert(chips)
      .values({
        ...insertColumns(values),
        designedForChinaMarket: values.designedForChinaMarket ?? false,
      })
      .onConflictDoUpdate({ target: chips.slug, set: providedColumns(values) })
      .returning({ ...getColumns(chips), created: inserted });
    if (!row) throw new Error('upsertChip: no row returned');
    const { created, ...chip } = row;
    return { chip, created };
  });
}
