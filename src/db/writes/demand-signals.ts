/**
 * Recording demand signals: one transaction inserting the signal and the companies it names
 * (in the order given), with idempotency like the other creates. The insert trigger gives the
 * signal its event position (commit order), which subscriptions resume from.
 */
import { eq } from 'drizzle-orm';
import { ConflictError, FieldIssues } from '../../errors.js';
import type { Database } from '../client.js';
import {
  type DemandSignalKind,
  demandSignalCompanies,
  demandSignals,
  type FactConfidence,
  type SignalDirection,
  type SignalStrength,
} from '../schema.js';
import {
  checkDate,
  checkListSize,
  checkNumber,
  checkSlug,
  checkText,
  checkUnique,
  type Reference,
  referencesTo,
  referenceTo,
  resolveReferences,
  throwIfAnyWithReferences,
} from './common.js';
import { createOnce } from './idempotency.js';
import { checkIdempotencyKey } from './policy-decisions.js';

/** A `demand_signals` row. */
export type DemandSignalRow = typeof demandSignals.$inferSelect;

/** `recordDemandSignal`'s input (the GraphQL `RecordDemandSignalInput`). */
export interface RecordDemandSignalInput {
  slug: string;
  companies: string[];
  chip?: string | null;
  kind: DemandSignalKind;
  observedOn: string;
  quantityUnits?: number | null;
  valueUsd?: string | null;
  direction?: SignalDirection | null;
  strength?: SignalStrength | null;
  reportedBy?: string | null;
  summary?: string | null;
  sourceUrl?: string | null;
  confidence?: FactConfidence | null;
  idempotencyKey?: string | null;
}

/**
 * Records a demand signal. Throws `ValidationError` (bad fields, no companies, unknown chip or
 * companies, more than `PLAIN_LIST_MAX` companies, a negative quantity) or `ConflictError` (slug taken, idempotency key reused with
 * another input). With an `idempotencyKey`, a retry within 24 hours returns the first result;
 * keys are scoped to `apiKeyId`, the API key making the request.
 */
export async function recordDemandSignal(
  db: Database,
  input: RecordDemandSignalInput,
  apiKeyId?: number,
): Promise<{ demandSignal: DemandSignalRow; replayed: boolean }> {
  const issues = new FieldIssues();
  checkSlug(issues, ['input', 'slug'], input.slug);
  if (input.companies.length === 0) {
    issues.add(['input', 'companies'], 'Name at least one company (a buyer or supplier slug).');
  }
  checkUnique(issues, ['input', 'companies'], input.companies);
  checkListSize(issues, ['input', 'companies'], input.companies, 'companies');
  checkNumber(issues, ['input', 'quantityUnits'], input.quantityUnits, 0);
  // A value is an amount of money involved; a fall in revenue is told by `direction`.
  if (input.valueUsd?.startsWith('-')) {
    issues.add(['input', 'valueUsd'], `Must not be negative (got ${input.valueUsd}).`);
  }
  checkText(issues, ['input', 'reportedBy'], input.reportedBy, 'shortText');
  checkText(issues, ['input', 'summary'], input.summary, 'longText');
  checkDate(issues, ['input', 'observedOn'], input.observedOn, true);
  checkIdempotencyKey(issues, input.idempotencyKey);
  const references: Reference[] = [
    ...referencesTo('companies', input.companies, (i) => ['input', 'companies', i]),
    ...referenceTo('chips', ['input', 'chip'], input.chip),
  ];
  await throwIfAnyWithReferences(db, issues, references);

  const { idempotencyKey, ...given } = input;
  // The documented default counts as given, so sending it explicitly still replays.
  const request = { ...given, confidence: given.confidence ?? 'RECALLED' };
  const { row: demandSignal, replayed } = await createOnce(db, {
    operation: 'recordDemandSignal',
    apiKeyId,
    idempotencyKey,
    request,
    slugTaken: `A demand signal with slug "${input.slug}" already exists.`,
    find: async (tx, slug) =>
      (await tx.select().from(demandSignals).where(eq(demandSignals.slug, slug)))[0],
    create: async (tx) => {
      const [{ companies: companyIds, chips: chipIds }, existing] = await Promise.all([
        resolveReferences(tx, issues, references),
        tx
          .select({ id: demandSignals.id })
          .from(demandSignals)
          .where(eq(demandSignals.slug, input.slug)),
      ]);
      issues.throwIfAny();
      if (existing.length > 0) {
        throw new ConflictError(`A demand signal with slug "${input.slug}" already exists.`);
      }
      const [demandSignal] = await tx
        .insert(demandSignals)
        .values({
          slug: input.slug,
          chipId: input.chip ? (chipIds.get(input.chip) ?? null) : null,
          kind: input.kind,
          observedOn: input.observedOn,
          quantityUnits: input.quantityUnits ?? null,
          valueUsd: input.valueUsd ?? null,
          direction: input.direction ?? null,
          strength: input.strength ?? null,
          reportedBy: input.reportedBy ?? null,
          summary: input.summary ?? null,
          sourceUrl: input.sourceUrl ?? null,
          confidence: input.confidence ?? 'RECALLED',
        })
        .returning();
      if (!demandSignal) throw new Error('recordDemandSignal: no row returned');
      await tx.insert(demandSignalCompanies).values(
        input.companies.map((company, position) => ({
          signalId: demandSignal.id,
          companyId: companyIds.get(company) as number,
          position,
        })),
      );
      return demandSignal;
    },
  });
  return { demandSignal, replayed };
}
