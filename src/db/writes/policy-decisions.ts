/**
 * Writes to policy decisions: create (with chips, companies, supersession and idempotency) and
 * status changes (checked against `STATUS_TRANSITIONS`). Each is one transaction; a failure
 * throws `ValidationError`, `NotFoundError` or `ConflictError` and leaves no rows behind. The
 * status history itself is written by the database trigger, which reads `chipgate.occurred_at`
 * and `chipgate.note` set here inside the transaction.
 */
import { desc, eq, sql } from 'drizzle-orm';
import { ConflictError, FieldIssues, NotFoundError } from '../../errors.js';
import type { Database } from '../client.js';
import { TEXT_LIMITS, textLength } from '../limits.js';
import {
  type FactConfidence,
  type PolicyEffect,
  type PolicyKind,
  type PolicyStatus,
  policyDecisionChips,
  policyDecisionCompanies,
  policyDecisions,
  policyDecisionUpdates,
} from '../schema.js';
import {
  checkDate,
  checkListSize,
  checkSlug,
  checkText,
  checkUnique,
  idsBySlug,
  MAX_DATE,
  MIN_DATE,
  midnightUtc,
  type Reference,
  referencesTo,
  referenceTo,
  resolveReferences,
  setHistoryContext,
  throwIfAnyWithReferences,
} from './common.js';
import { createOnce } from './idempotency.js';

/**
 * Allowed status changes: from each status, the statuses a decision may move to.
 * - RESCINDED, REJECTED and SUPERSEDED are terminal: a withdrawn, refused or replaced
 *   decision comes back only as a new decision (which may `supersedes` the old one).
 * - Before a decision is made (PROPOSED, UNDER_REVIEW) it can be decided either way, take
 *   effect directly (rules effective on publication), be withdrawn, or be overtaken by another
 *   decision (SUPERSEDED, as the seed records for two reviews).
 * - A decided decision (APPROVED, IN_EFFECT) can take effect, be suspended, replaced or
 *   rescinded, but not go back to review.
 * - SUSPENDED can be reinstated (APPROVED or IN_EFFECT), replaced or rescinded.
 * Setting the current status again is not a change and is refused.
 * Creating a decision that `supersedes` another moves the older one to SUPERSEDED by the
 * api.md rule (unless it is SUPERSEDED or RESCINDED already), whatever this table says.
 */
export const STATUS_TRANSITIONS: Readonly<Record<PolicyStatus, readonly PolicyStatus[]>> = {
  PROPOSED: ['UNDER_REVIEW', 'APPROVED', 'IN_EFFECT', 'REJECTED', 'RESCINDED', 'SUPERSEDED'],
  UNDER_REVIEW: ['APPROVED', 'IN_EFFECT', 'REJECTED', 'RESCINDED', 'SUPERSEDED'],
  APPROVED: ['IN_EFFECT', 'SUSPENDED', 'SUPERSEDED', 'RESCINDED'],
  IN_EFFECT: ['SUSPENDED', 'SUPERSEDED', 'RESCINDED'],
  SUSPENDED: ['APPROVED', 'IN_EFFECT', 'SUPERSEDED', 'RESCINDED'],
  SUPERSEDED: [],
  RESCINDED: [],
  REJECTED: [],
};

/** A `policy_decisions` row. */
export type PolicyDecisionRow = typeof policyDecisions.$inferSelect;
/** A `policy_decision_updates` row. */
export type PolicyDecisionUpdateRow = typeof policyDecisionUpdates.$inferSelect;

/** `createPolicyDecision`'s input (the GraphQL `CreatePolicyDecisionInput`). */
export interface CreatePolicyDecisionInput {
  slug: string;
  title: string;
  summary?: string | null;
  jurisdiction: string;
  destinations: string[];
  authority: string;
  kind: PolicyKind;
  status: PolicyStatus;
  announcedOn: string;
  effectiveOn?: string | null;
  chips?: { chip: string; effect: PolicyEffect }[] | null;
  companies?: string[] | null;
  supersedes?: string | null;
  sourceUrl?: string | null;
  confidence?: FactConfidence | null;
  federalRegisterDocumentNumber?: string | null;
  idempotencyKey?: string | null;
}

/** Checks an idempotency key's form (1 to `TEXT_LIMITS.idempotencyKey` characters, not blank). */
export function checkIdempotencyKey(issues: FieldIssues, key: string | null | undefined): void {
  const max = TEXT_LIMITS.idempotencyKey;
  if (key != null && (key.trim() === '' || textLength(key) > max)) {
    issues.add(
      ['input', 'idempotencyKey'],
      `Must be 1 to ${max} characters, not blank (got ${textLength(key)}).`,
    );
  }
}

/**
 * Columns for a select from `policy_decisions`: `latest`, the decision's latest history entry
 * as ISO 8601 UTC (null without history), `backdated`, whether that entry is later than
 * `candidate` (so a change at `candidate` would be back-dated). The history may grow without
 * bound: `PolicyDecision.updates` reads its latest `PLAIN_LIST_MAX` entries.
 */
const latestChange = (candidate: string) => ({
  latest: sql<
    string | null
  >`(select to_char(max(u.occurred_at) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
    from policy_decision_updates u where u.decision_id = policy_decisions.id)`,
  backdated: sql<boolean>`coalesce((select max(u.occurred_at) > ${candidate}::timestamptz
    from policy_decision_updates u where u.decision_id = policy_decisions.id), false)`,
});

/**
 * Creates a decision with its chips and companies. Its first history entry is at `announcedOn`
 * 00:00Z. A `supersedes` decision moves to SUPERSEDED at the same instant, with the note
 * "Superseded by <slug>", unless it is SUPERSEDED or RESCINDED already. With an
 * `idempotencyKey`, a retry within 24 hours returns the first result (`replayed: true`).
 * Throws `ValidationError` (bad fields, unknown chips/companies/supersedes, more than
 * `PLAIN_LIST_MAX` chips or companies, effectiveOn before announcedOn, a supersession
 * back-dated before the older decision's latest update) or
 * `ConflictError` (slug taken, idempotency key reused with another input). Idempotency keys
 * are scoped to `apiKeyId`, the API key making the request (another key's "k1" is another key).
 */
export async function createPolicyDecision(
  db: Database,
  input: CreatePolicyDecisionInput,
  apiKeyId?: number,
): Promise<{ decision: PolicyDecisionRow; replayed: boolean }> {
  const issues = new FieldIssues();
  checkSlug(issues, ['input', 'slug'], input.slug);
  checkText(issues, ['input', 'title'], input.title, 'shortText');
  checkText(issues, ['input', 'summary'], input.summary, 'longText');
  checkText(issues, ['input', 'authority'], input.authority, 'shortText');
  checkText(
    issues,
    ['input', 'federalRegisterDocumentNumber'],
    input.federalRegisterDocumentNumber,
    'shortText',
  );
  if (input.destinations.length === 0) {
    issues.add(['input', 'destinations'], 'Name at least one destination country.');
  }
  checkUnique(issues, ['input', 'destinations'], input.destinations);
  checkDate(issues, ['input', 'announcedOn'], input.announcedOn, true);
  checkDate(issues, ['input', 'effectiveOn'], input.effectiveOn);
  if (input.effectiveOn && input.effectiveOn < input.announcedOn) {
    issues.add(
      ['input', 'effectiveOn'],
      `Must not be before announcedOn (${input.announcedOn}); got ${input.effectiveOn}.`,
    );
  }
  const chipSlugs = (input.chips ?? []).map((link) => link.chip);
  const companySlugs = input.companies ?? [];
  checkUnique(issues, ['input', 'chips'], chipSlugs);
  checkUnique(issues, ['input', 'companies'], companySlugs);
  checkListSize(issues, ['input', 'chips'], chipSlugs, 'chips');
  checkListSize(issues, ['input', 'companies'], companySlugs, 'companies');
  if (input.supersedes === input.slug) {
    issues.add(['input', 'supersedes'], 'A decision cannot supersede itself.');
  }
  checkIdempotencyKey(issues, input.idempotencyKey);
  const references: Reference[] = [
    ...referencesTo('chips', chipSlugs, (i) => ['input', 'chips', i, 'chip']),
    ...referencesTo('companies', companySlugs, (i) => ['input', 'companies', i]),
    ...referenceTo('policyDecisions', ['input', 'supersedes'], input.supersedes),
  ];
  await throwIfAnyWithReferences(db, issues, references);

  const { idempotencyKey, ...given } = input;
  // The documented default counts as given, so sending it explicitly still replays.
  const request = { ...given, confidence: given.confidence ?? 'RECALLED' };
  const { row: decision, replayed } = await createOnce(db, {
    operation: 'createPolicyDecision',
    apiKeyId,
    idempotencyKey,
    request,
    slugTaken: `A policy decision with slug "${input.slug}" already exists.`,
    find: async (tx, slug) =>
      (await tx.select().from(policyDecisions).where(eq(policyDecisions.slug, slug)))[0],
    create: async (tx) => {
      const [ids, taken] = await Promise.all([
        resolveReferences(tx, issues, references),
        idsBySlug(tx, 'policyDecisions', [input.slug]),
      ]);
      const chipIds = ids.chips;
      const companyIds = ids.companies;
      const supersededId = input.supersedes ? ids.policyDecisions.get(input.supersedes) : undefined;
      let supersede = false;
      if (supersededId !== undefined) {
        const [older] = await tx
          .select({
            status: policyDecisions.status,
            ...latestChange(midnightUtc(input.announcedOn)),
          })
          .from(policyDecisions)
          .where(eq(policyDecisions.id, supersededId))
          .for('update');
        supersede = !!older && older.status !== 'SUPERSEDED' && older.status !== 'RESCINDED';
        if (supersede && older?.backdated) {
          issues.add(
            ['input', 'supersedes'],
            `"${input.supersedes}" changed status at ${older.latest}, after this decision's announcedOn (${input.announcedOn}); it cannot be superseded at an earlier date.`,
          );
        }
      }
      issues.throwIfAny();
      if (taken.has(input.slug)) {
        throw new ConflictError(`A policy decision with slug "${input.slug}" already exists.`);
      }

      await setHistoryContext(tx, midnightUtc(input.announcedOn), null);
      const [decision] = await tx
        .insert(policyDecisions)
        .values({
          slug: input.slug,
          title: input.title,
          summary: input.summary ?? null,
          jurisdiction: input.jurisdiction,
          destinations: input.destinations,
          authority: input.authority,
          kind: input.kind,
          status: input.status,
          announcedOn: input.announcedOn,
          effectiveOn: input.effectiveOn ?? null,
          supersedesId: supersededId ?? null,
          sourceUrl: input.sourceUrl ?? null,
          confidence: input.confidence ?? 'RECALLED',
          federalRegisterDocumentNumber: input.federalRegisterDocumentNumber ?? null,
        })
        .returning();
      if (!decision) throw new Error('createPolicyDecision: no row returned');
      if (input.chips?.length) {
        await tx.insert(policyDecisionChips).values(
          input.chips.map((link) => ({
            decisionId: decision.id,
            chipId: chipIds.get(link.chip) as number,
            effect: link.effect,
          })),
        );
      }
      if (companySlugs.length) {
        await tx.insert(policyDecisionCompanies).values(
          companySlugs.map((company) => ({
            decisionId: decision.id,
            companyId: companyIds.get(company) as number,
          })),
        );
      }
      if (supersede && supersededId !== undefined) {
        await setHistoryContext(tx, midnightUtc(input.announcedOn), `Superseded by ${input.slug}`);
        await tx
          .update(policyDecisions)
          .set({ status: 'SUPERSEDED' })
          .where(eq(policyDecisions.id, supersededId));
      }
      return decision;
    },
  });
  return { decision, replayed };
}

/** `updatePolicyDecisionStatus`'s input. */
export interface UpdatePolicyDecisionStatusInput {
  slug: string;
  status: PolicyStatus;
  note?: string | null;
  /** When the change happened; default now. */
  occurredAt?: Date | null;
}

/**
 * Moves a decision to `status` and records the change (with `note` and `occurredAt`) in its
 * history through the trigger. The decision row is locked for the transaction, so concurrent
 * changes of one decision apply one after the other, each checked against the other's result.
 * Throws `NotFoundError` (no such slug) or `ValidationError` (same status, a transition
 * `STATUS_TRANSITIONS` refuses, occurredAt before the latest history entry or in the future).
 */
export async function updatePolicyDecisionStatus(
  db: Database,
  input: UpdatePolicyDecisionStatusInput,
): Promise<{ decision: PolicyDecisionRow; update: PolicyDecisionUpdateRow }> {
  const issues = new FieldIssues();
  checkSlug(issues, ['input', 'slug'], input.slug);
  checkText(issues, ['input', 'note'], input.note, 'longText');
  const occurredAt = input.occurredAt ?? new Date();
  const occurredIso = occurredAt.toISOString();
  if (occurredIso < MIN_DATE || occurredIso > `${MAX_DATE}T23:59:59.999Z`) {
    issues.add(
      ['input', 'occurredAt'],
      `Must be between ${MIN_DATE} and ${MAX_DATE} (got ${occurredIso}).`,
    );
  } else if (occurredAt.getTime() > Date.now() + 60_000) {
    issues.add(['input', 'occurredAt'], 'Must not be in the future.');
  }
  issues.throwIfAny();

  return db.transaction(async (tx) => {
    const [current] = await tx
      .select({
        id: policyDecisions.id,
        status: policyDecisions.status,
        ...latestChange(occurredIso),
      })
      .from(policyDecisions)
      .where(eq(policyDecisions.slug, input.slug))
      .for('update');
    if (!current) throw new NotFoundError(`No policy decision "${input.slug}".`);
    const allowed = STATUS_TRANSITIONS[current.status];
    if (current.status === input.status) {
      issues.add(['input', 'status'], `The decision is already ${input.status}.`);
    } else if (!allowed.includes(input.status)) {
      issues.add(
        ['input', 'status'],
        `${/^[AEIOU]/.test(current.status) ? 'An' : 'A'} ${current.status} decision cannot become ${input.status}; ` +
          (allowed.length
            ? `allowed: ${allowed.join(', ')}.`
            : `${current.status} is final (create a new decision instead).`),
      );
    }
    if (current.backdated) {
      issues.add(
        ['input', 'occurredAt'],
        `Must not be before the decision's latest status change (${current.latest}); got ${occurredIso}.`,
      );
    }
    issues.throwIfAny();
    await setHistoryContext(tx, occurredIso, input.note ?? null);
    const [decision] = await tx
      .update(policyDecisions)
      .set({ status: input.status })
      .where(eq(policyDecisions.id, current.id))
      .returning();
    const [update] = await tx
      .select()
      .from(policyDecisionUpdates)
      .where(eq(policyDecisionUpdates.decisionId, current.id))
      .orderBy(desc(policyDecisionUpdates.id))
      .limit(1);
    if (!decision || !update) throw new Error('updatePolicyDecisionStatus: no row returned');
    return { decision, update };
  });
}
