/**
 * `chipgate sync federal-register`: pages through the BIS documents of the Federal Register
 * (oldest first, following `next_page_url`) and upserts each as a `PolicyDecision` with slug
 * `fr-<document_number>`.
 *
 * Per document, in its own transaction:
 * - *linked*: a curated row (any slug not starting with `fr-`) already carries the number; it
 *   is never overwritten;
 * - *created*: no row yet, one is inserted;
 * - *unchanged*: the `fr-` row has the same content;
 * - *updated*: the `fr-` row's content changed upstream, and is rewritten;
 * - *failed*: the document did not validate, or its write failed.
 * Re-running is safe (it only converges), and so is stopping at any point: each document is
 * committed on its own, and an interrupted run re-run ends in the state of an uninterrupted one.
 */
import { eq, or } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import { type PolicyStatus, policyDecisions } from '../db/schema.js';
import type {
  FederalRegisterClient,
  FederalRegisterDocument,
} from '../sources/federal-register.js';

/** The agency synced (the Bureau of Industry and Security). */
/**
 * True for a real calendar date in `YYYY-MM-DD` form (`2022-02-30` is not one, though
 * `Date.parse` accepts it), as the GraphQL `Date` scalar requires.
 */
export function isCalendarDate(value: string): boolean {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!match) return false;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  return (
    year >= 1 &&
    date.getUTCFullYear() === year &&
    date.getUTCMonth() === month - 1 &&
    date.getUTCDate() === day
  );
}

export const SYNC_AGENCY = 'industry-and-security-bureau';

/** What a run did, document by document. */
export interface SyncCounts {
  created: number;
  linked: number;
  updated: number;
  unchanged: number;
  failed: number;
}

/** How a run ended. */
export interface SyncResult {
  counts: SyncCounts;
  /** Documents the register reported for the search (all pages). */
  total: number;
  /** True when `signal` stopped the run before the last page. */
  interrupted: boolean;
  /** The error that stopped the run (a page could not be fetched); counts show what was done. */
  error?: Error;
}

/** Options of a run. */
export interface SyncOptions {
  /** First publication date, `YYYY-MM-DD`. */
  since: string;
  /** Documents per page (the API allows up to 1000). */
  pageSize?: number;
  /** Stops the run between two documents. */
  signal?: AbortSignal;
  /** Called after each document with the documents done and the total. */
  onProgress?: (done: number, total: number) => void;
}

/** Country names in titles and abstracts, and their ISO 3166-1 alpha-2 codes. */
const COUNTRIES: [RegExp, string][] = [
  [/\b(People's Republic of China|PRC|China|Chinese)\b/i, 'CN'],
  [/\bHong Kong\b/i, 'HK'],
  [/\bMaca[ou]\b/i, 'MO'],
  [/\b(Russia|Russian Federation)\b/i, 'RU'],
  [/\bBelarus\b/i, 'BY'],
  [/\bIran\b/i, 'IR'],
  [/\bNorth Korea\b/i, 'KP'],
  [/\bCuba\b/i, 'CU'],
  [/\bSyria\b/i, 'SY'],
  [/\bVenezuela\b/i, 'VE'],
];

/** Destination countries a document's title or abstract names, sorted; empty when none. */
export function destinationsOf(document: FederalRegisterDocument): string[] {
  const text = `${document.title} ${document.abstract ?? ''}`;
  return [...new Set(COUNTRIES.filter(([name]) => name.test(text)).map(([, code]) => code))].sort();
}

const STATUS: Record<string, PolicyStatus> = { Rule: 'IN_EFFECT', 'Proposed Rule': 'PROPOSED' };

/** The `policy_decisions` columns a document determines. */
export function decisionOf(document: FederalRegisterDocument) {
  const published = document.publication_date;
  const effective = document.effective_on ?? null;
  // A rule can take effect on signing, before publication; the store requires effective >=
  // announced (= published), so such a date goes into the notes instead.
  const effectiveOn = effective && effective >= published ? effective : null;
  return {
    slug: `fr-${document.document_number.toLowerCase()}`,
    title: document.title.trim(),
    jurisdiction: 'US',
    destinations: destinationsOf(document),
    authority: 'BIS',
    kind: 'EXPORT_RULE' as const,
    status: STATUS[document.type] ?? 'IN_EFFECT',
    announcedOn: published,
    effectiveOn,
    publishedOn: published,
    federalRegisterDocumentNumber: document.document_number,
    federalRegisterCitation: document.citation ?? null,
    regulationIdentifierNumber: document.regulation_id_numbers?.[0] ?? null,
    sourceUrl: document.html_url,
    confidence: 'VERIFIED' as const,
    notes:
      effective && !effectiveOn
        ? `Synced from the Federal Register. Effective ${effective}, before publication.`
        : 'Synced from the Federal Register.',
  };
}

type Decision = ReturnType<typeof decisionOf>;
const COMPARED = [
  'title',
  'destinations',
  'status',
  'announcedOn',
  'effectiveOn',
  'publishedOn',
  'federalRegisterCitation',
  'regulationIdentifierNumber',
  'sourceUrl',
  'notes',
] as const satisfies readonly (keyof Decision)[];

/** Upserts one document in its own transaction; returns what happened. */
export async function upsertDocument(
  db: Database,
  document: FederalRegisterDocument,
): Promise<Exclude<keyof SyncCounts, 'failed'>> {
  const decision = decisionOf(document);
  return db.transaction(async (tx) => {
    const existing = await tx
      .select({ id: policyDecisions.id, slug: policyDecisions.slug })
      .from(policyDecisions)
      .where(
        or(
          eq(policyDecisions.federalRegisterDocumentNumber, decision.federalRegisterDocumentNumber),
          eq(policyDecisions.slug, decision.slug),
        ),
      );
    if (existing.some((row) => !row.slug.startsWith('fr-'))) return 'linked';
    const mine = existing.find((row) => row.slug === decision.slug);
    if (!mine) {
      await tx.insert(policyDecisions).values(decision).onConflictDoNothing();
      return 'created';
    }
    const [current] = await tx
      .select()
      .from(policyDecisions)
      .where(eq(policyDecisions.id, mine.id));
    const same = COMPARED.every(
      (key) => JSON.stringify(current?.[key] ?? null) === JSON.stringify(decision[key]),
    );
    if (same) return 'unchanged';
    const changes = Object.fromEntries(COMPARED.map((key) => [key, decision[key]]));
    await tx.update(policyDecisions).set(changes).where(eq(policyDecisions.id, mine.id));
    return 'updated';
  });
}

/** Runs the sync against `client` into `db`. Never throws for upstream failures. */
export async function syncFederalRegister(
  db: Database,
  client: FederalRegisterClient,
  options: SyncOptions,
): Promise<SyncResult> {
  const counts: SyncCounts = { created: 0, linked: 0, updated: 0, unchanged: 0, failed: 0 };
  let url: string | null = client.searchUrl(
    { agency: SYNC_AGENCY, types: [], from: options.since, order: 'oldest' },
    1,
    options.pageSize ?? 100,
  );
  let total = 0;
  let done = 0;
  while (url) {
    if (options.signal?.aborted) return { counts, total, interrupted: true };
    let page: Awaited<ReturnType<FederalRegisterClient['readPage']>>;
    try {
      const read = await unlessAborted(client.readPage(url), options.signal);
      if (read === undefined) return { counts, total, interrupted: true };
      page = read;
    } catch (error) {
      return { counts, total, interrupted: false, error: error as Error };
    }
    total = page.count;
    counts.failed += page.invalid;
    done += page.invalid;
    for (const document of page.documents) {
      if (options.signal?.aborted) return { counts, total, interrupted: true };
      try {
        counts[await upsertDocument(db, document)] += 1;
      } catch {
        counts.failed += 1;
      }
      done += 1;
      options.onProgress?.(done, total);
    }
    url = page.nextPageUrl;
  }
  return { counts, total, interrupted: false };
}

/**
 * `promise`'s value, or `undefined` as soon as `signal` aborts: a shutdown does not wait for a
 * page from a stalled upstream (whose own deadline is 30 s). The abandoned promise's failure is
 * ignored; the source's close ends its request.
 */
async function unlessAborted<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T | undefined> {
  if (!signal) return promise;
  promise.catch(() => {});
  if (signal.aborted) return undefined;
  let onAbort = () => {};
  const aborted = new Promise<undefined>((resolve) => {
    onAbort = () => resolve(undefined);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([promise, aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
