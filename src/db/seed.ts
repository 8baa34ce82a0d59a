/**
 * Seed loader: the sourced facts in `src/db/seed/dataset.json` (companies, chips, policy
 * decisions with their status history, demand signals) into the store.
 *
 * Idempotent: rows are keyed by slug and only missing rows are inserted; existing rows (which
 * the API or an operator may have changed since) are left alone. A null fact stays null.
 * Decisions are inserted with the first status of their `statusHistory` and the later statuses
 * applied as updates, each with its date passed to the history trigger through the
 * transaction-local setting `chipgate.occurred_at`, so no history row is written twice. The seed
 * writes each history exactly as given: it does not apply the API's supersession rule.
 */
import { readFileSync } from 'node:fs';
import { inArray } from 'drizzle-orm';
import { z } from 'zod';
import type { Database } from './client.js';
import {
  type CompanyRole,
  chips,
  companies,
  demandSignalCompanies,
  demandSignals,
  type Listing,
  policyDecisionChips,
  policyDecisionCompanies,
  policyDecisions,
} from './schema.js';
import { midnightUtc, setHistoryContext } from './writes/common.js';

const kebabToEnum = (value: string) => value.toUpperCase().replaceAll('-', '_');

const ROLE: Record<string, CompanyRole> = {
  designer: 'DESIGNER',
  foundry: 'FOUNDRY',
  memory: 'MEMORY_SUPPLIER',
  'hyperscaler-buyer': 'BUYER',
  'domestic-alternative': 'DOMESTIC_ALTERNATIVE',
};

const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/);
const nullableNumber = z.number().nullable().optional();
const nullableString = z.string().nullable().optional();

/** Where a curated fact comes from and how sure it is: every record of the dataset has it. */
const provenance = {
  sourceUrl: nullableString,
  confidence: z.enum(['verified', 'recalled']),
  notes: nullableString,
};

const companySchema = z.object({
  id: z.string(),
  name: z.string(),
  country: z.string().length(2),
  role: z.string(),
  secondaryRoles: z.array(z.string()).default([]),
  listings: z
    .array(
      z.object({
        ticker: z.string(),
        exchange: z.string(),
        primary: z.boolean(),
        note: z.string().optional(),
      }),
    )
    .default([]),
  secCik: nullableString,
  secFilerType: nullableString,
  ...provenance,
});

const chipSchema = z.object({
  id: z.string(),
  name: z.string(),
  designerId: z.string(),
  foundryId: nullableString,
  architecture: nullableString,
  launchYear: nullableNumber,
  announcedDate: isoDate.nullable().optional(),
  processNode: nullableString,
  memoryGB: nullableNumber,
  memoryType: nullableString,
  memoryBandwidthTBs: nullableNumber,
  fp16DenseTflops: nullableNumber,
  fp8DenseTflops: nullableNumber,
  tdpWatts: nullableNumber,
  dieAreaMm2: nullableNumber,
  tpp: nullableNumber,
  performanceDensity: nullableNumber,
  derivedFields: z.array(z.string()).default([]),
  interconnectGBs: nullableNumber,
  designedForChinaMarket: z.boolean(),
  derivedFromChipId: nullableString,
  exportStatus: nullableString,
  ...provenance,
});

const decisionSchema = z.object({
  id: z.string(),
  date: isoDate,
  publicationDate: isoDate.nullable().optional(),
  effectiveDate: isoDate.nullable().optional(),
  jurisdiction: z.string().length(2),
  destinations: z.array(z.string().length(2)),
  authority: z.string(),
  kind: z.string(),
  status: z.string(),
  affectedCompanyIds: z.array(z.string()).default([]),
  title: z.string(),
  summary: nullableString,
  federalRegisterDocumentNumber: nullableString,
  federalRegisterCitation: nullableString,
  rin: nullableString,
  presidentialDocumentNumber: nullableString,
  revenueSharePercent: nullableNumber,
  tariffPercent: nullableNumber,
  ...provenance,
  chipEffects: z.array(z.object({ chipId: z.string(), effect: z.string() })).default([]),
  supersedesId: nullableString,
  statusHistory: z
    .array(
      z.object({
        date: isoDate,
        fromStatus: z.string().nullable(),
        toStatus: z.string(),
        note: nullableString,
      }),
    )
    .min(1),
});

const signalSchema = z.object({
  id: z.string(),
  date: isoDate,
  companyIds: z.array(z.string()),
  chipId: nullableString,
  kind: z.string(),
  quantityUnits: nullableNumber,
  valueUsd: nullableNumber,
  valueOriginal: z
    .object({ amount: z.number(), currency: z.string().length(3) })
    .nullable()
    .optional(),
  direction: nullableString,
  strength: nullableString,
  reportedBy: nullableString,
  summary: nullableString,
  ...provenance,
});

/** Shape of the seed file (the shared dataset's format). */
export const datasetSchema = z.object({
  companies: z.array(companySchema),
  chips: z.array(chipSchema),
  policyDecisions: z.array(decisionSchema),
  demandSignals: z.array(signalSchema),
});

/** A parsed seed dataset. */
export type Dataset = z.infer<typeof datasetSchema>;

/** Reads and validates the project's seed file. */
export function readDataset(file: URL = new URL('./seed/dataset.json', import.meta.url)): Dataset {
  return datasetSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
}

/** How many rows a seed run inserted per table (0 everywhere on a re-run). */
export interface SeedResult {
  companies: number;
  chips: number;
  policyDecisions: number;
  policyDecisionUpdates: number;
  demandSignals: number;
}

const confidence = (value: 'verified' | 'recalled') =>
  value === 'verified' ? ('VERIFIED' as const) : ('RECALLED' as const);

/** A JS number as an exact decimal string for `numeric` columns (no exponent notation). */
function decimalString(value: number | null | undefined): string | null {
  if (value == null) return null;
  return Number.isInteger(value) ? BigInt(value).toString() : String(value);
}

/** Midnight UTC of a calendar date, the instant a seed date stands for. */

async function idsBySlug(
  tx: Database,
  table: typeof companies | typeof chips | typeof policyDecisions,
  slugs: string[],
): Promise<Map<string, number>> {
  if (slugs.length === 0) return new Map();
  const rows = await tx
    .select({ id: table.id, slug: table.slug })
    .from(table)
    .where(inArray(table.slug, slugs));
  return new Map(rows.map((row) => [row.slug, row.id]));
}

function must(map: Map<string, number>, slug: string, what: string): number {
  const id = map.get(slug);
  if (id === undefined) throw new Error(`Seed data references unknown ${what} "${slug}"`);
  return id;
}

/** Loads `dataset` (default: the project's seed file) into `db` in one transaction. */
export async function seed(db: Database, dataset: Dataset = readDataset()): Promise<SeedResult> {
  return db.transaction(async (txn) => {
    const tx = txn as unknown as Database;
    const result: SeedResult = {
      companies: 0,
      chips: 0,
      policyDecisions: 0,
      policyDecisionUpdates: 0,
      demandSignals: 0,
    };

    const insertedCompanies = await tx
      .insert(companies)
      .values(
        dataset.companies.map((c) => {
          const roles = [c.role, ...c.secondaryRoles].map((role) => {
            const mapped = ROLE[role];
            if (!mapped) throw new Error(`Seed company ${c.id}: unknown role "${role}"`);
            return mapped;
          });
          const listings: Listing[] = [...c.listings]
            .sort((a, b) => Number(b.primary) - Number(a.primary))
            .map((l) => ({ ...l, note: l.note ?? null }));
          return {
            slug: c.id,
            name: c.name,
            country: c.country.toUpperCase(),
            roles: [...new Set(roles)],
            listings,
            secCik: c.secCik ? c.secCik.replace(/^0+/, '') : null,
            secFilerType: c.secFilerType ?? null,
            sourceUrl: c.sourceUrl ?? null,
            confidence: confidence(c.confidence),
            notes: c.notes ?? null,
          };
        }),
      )
      .onConflictDoNothing({ target: companies.slug })
      .returning({ id: companies.id });
    result.companies = insertedCompanies.length;

    const companyIds = await idsBySlug(tx, companies, [
      ...new Set([
        ...dataset.companies.map((c) => c.id),
        ...dataset.chips.flatMap((c) => [c.designerId, c.foundryId ?? []].flat()),
        ...dataset.policyDecisions.flatMap((d) => d.affectedCompanyIds),
        ...dataset.demandSignals.flatMap((s) => s.companyIds),
      ]),
    ]);

    const insertedChips = await tx
      .insert(chips)
      .values(
        dataset.chips.map((c) => ({
          slug: c.id,
          name: c.name,
          designerId: must(companyIds, c.designerId, 'company'),
          foundryId: c.foundryId ? must(companyIds, c.foundryId, 'company') : null,
          architecture: c.architecture ?? null,
          launchYear: c.launchYear ?? null,
          announcedOn: c.announcedDate ?? null,
          processNode: c.processNode ?? null,
          memoryGb: c.memoryGB ?? null,
          memoryType: c.memoryType ?? null,
          memoryBandwidthTbs: c.memoryBandwidthTBs ?? null,
          fp16DenseTflops: c.fp16DenseTflops ?? null,
          fp8DenseTflops: c.fp8DenseTflops ?? null,
          tdpWatts: c.tdpWatts ?? null,
          dieAreaMm2: c.dieAreaMm2 ?? null,
          interconnectGbs: c.interconnectGBs ?? null,
          tpp: c.tpp ?? null,
          performanceDensity: c.performanceDensity ?? null,
          derivedFields: c.derivedFields,
          designedForChinaMarket: c.designedForChinaMarket,
          exportControlNote: c.exportStatus ?? null,
          sourceUrl: c.sourceUrl ?? null,
          confidence: confidence(c.confidence),
          notes: c.notes ?? null,
        })),
      )
      .onConflictDoNothing({ target: chips.slug })
      .returning({ id: chips.id, slug: chips.slug });
    result.chips = insertedChips.length;

    const chipIds = await idsBySlug(
      tx,
      chips,
      dataset.chips.map((c) => c.id),
    );
    // Derivations point at chips of the same file, so they are linked once all chips exist.
    const newChipSlugs = new Set(insertedChips.map((c) => c.slug));
    for (const c of dataset.chips) {
      if (!c.derivedFromChipId || !newChipSlugs.has(c.id)) continue;
      await tx
        .update(chips)
        .set({ derivedFromId: must(chipIds, c.derivedFromChipId, 'chip') })
        .where(inArray(chips.slug, [c.id]));
    }

    const existingDecisions = await idsBySlug(
      tx,
      policyDecisions,
      dataset.policyDecisions.map((d) => d.id),
    );
    const newDecisions = dataset.policyDecisions.filter((d) => !existingDecisions.has(d.id));
    for (const d of newDecisions) {
      const [first, ...later] = d.statusHistory;
      if (!first) continue;
      await setHistoryContext(tx, midnightUtc(first.date), first.note ?? null);
      const [row] = await tx
        .insert(policyDecisions)
        .values({
          slug: d.id,
          title: d.title,
          summary: d.summary ?? null,
          jurisdiction: d.jurisdiction.toUpperCase(),
          destinations: d.destinations.map((code) => code.toUpperCase()),
          authority: d.authority,
          kind: kebabToEnum(d.kind) as typeof policyDecisions.$inferInsert.kind,
          status: kebabToEnum(first.toStatus) as typeof policyDecisions.$inferInsert.status,
          announcedOn: d.date,
          effectiveOn: d.effectiveDate ?? null,
          publishedOn: d.publicationDate ?? null,
          revenueSharePercent: d.revenueSharePercent ?? null,
          tariffPercent: d.tariffPercent ?? null,
          federalRegisterDocumentNumber: d.federalRegisterDocumentNumber ?? null,
          federalRegisterCitation: d.federalRegisterCitation ?? null,
          regulationIdentifierNumber: d.rin ?? null,
          presidentialDocumentNumber: d.presidentialDocumentNumber ?? null,
          sourceUrl: d.sourceUrl ?? null,
          confidence: confidence(d.confidence),
          notes: d.notes ?? null,
        })
        .returning({ id: policyDecisions.id });
      if (!row) throw new Error(`Seed decision ${d.id} was not inserted`);
      existingDecisions.set(d.id, row.id);
      result.policyDecisions += 1;
      result.policyDecisionUpdates += 1;
      for (const step of later) {
        await setHistoryContext(tx, midnightUtc(step.date), step.note ?? null);
        await tx
          .update(policyDecisions)
          .set({ status: kebabToEnum(step.toStatus) as typeof policyDecisions.$inferInsert.status })
          .where(inArray(policyDecisions.id, [row.id]));
        result.policyDecisionUpdates += 1;
      }
      if (d.chipEffects.length > 0) {
        await tx.insert(policyDecisionChips).values(
          d.chipEffects.map((e) => ({
            decisionId: row.id,
            chipId: must(chipIds, e.chipId, 'chip'),
            effect: e.effect as typeof policyDecisionChips.$inferInsert.effect,
          })),
        );
      }
      if (d.affectedCompanyIds.length > 0) {
        await tx.insert(policyDecisionCompanies).values(
          [...new Set(d.affectedCompanyIds)].map((slug) => ({
            decisionId: row.id,
            companyId: must(companyIds, slug, 'company'),
          })),
        );
      }
    }
    await setHistoryContext(tx, '', null);
    for (const d of newDecisions) {
      if (!d.supersedesId) continue;
      await tx
        .update(policyDecisions)
        .set({ supersedesId: must(existingDecisions, d.supersedesId, 'policy decision') })
        .where(inArray(policyDecisions.slug, [d.id]));
    }

    const insertedSignals = await tx
      .insert(demandSignals)
      .values(
        dataset.demandSignals.map((s) => ({
          slug: s.id,
          chipId: s.chipId ? must(chipIds, s.chipId, 'chip') : null,
          kind: kebabToEnum(s.kind) as typeof demandSignals.$inferInsert.kind,
          observedOn: s.date,
          quantityUnits: s.quantityUnits ?? null,
          valueUsd: decimalString(s.valueUsd),
          valueOriginalAmount: decimalString(s.valueOriginal?.amount),
          valueOriginalCurrency: s.valueOriginal?.currency.toUpperCase() ?? null,
          direction: s.direction
            ? (kebabToEnum(s.direction) as typeof demandSignals.$inferInsert.direction)
            : null,
          strength: s.strength
            ? (kebabToEnum(s.strength) as typeof demandSignals.$inferInsert.strength)
            : null,
          reportedBy: s.reportedBy ?? null,
          summary: s.summary ?? null,
          sourceUrl: s.sourceUrl ?? null,
          confidence: confidence(s.confidence),
          notes: s.notes ?? null,
        })),
      )
      .onConflictDoNothing({ target: demandSignals.slug })
      .returning({ id: demandSignals.id, slug: demandSignals.slug });
    result.demandSignals = insertedSignals.length;
    const signalIds = new Map(insertedSignals.map((s) => [s.slug, s.id]));
    const links = dataset.demandSignals.flatMap((s) => {
      const signalId = signalIds.get(s.id);
      if (signalId === undefined) return [];
      return [...new Set(s.companyIds)].map((slug, position) => ({
        signalId,
        companyId: must(companyIds, slug, 'company'),
        position,
      }));
    });
    if (links.length > 0) await tx.insert(demandSignalCompanies).values(links);
    return result;
  });
}
