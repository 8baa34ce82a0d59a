/**
 * SEC EDGAR's XBRL company facts (`/api/xbrl/companyfacts/CIK##########.json`): the annual
 * revenue series of a filer, under the us-gaap revenue concept it actually reports.
 * No key, but a declared User-Agent (`<name> <contact email>`) is required; at most 10
 * requests/s. Without a User-Agent the source is off (`SOURCE_NOT_CONFIGURED`).
 */
import { z } from 'zod';
import type { Source, Sourced, SourcePolicy } from './http.js';

/** How calls to this upstream are made (an API: redirects only on its own origin, so its headers never reach another host). */
export const SEC_POLICY: SourcePolicy = { label: 'SEC EDGAR', crossOriginRedirects: false };

/** us-gaap revenue concepts, in order of preference when two have equally recent data. */
export const REVENUE_CONCEPTS = [
  'Revenues',
  'RevenueFromContractWithCustomerExcludingAssessedTax',
  'RevenueFromContractWithCustomerIncludingAssessedTax',
  'SalesRevenueNet',
] as const;

/** Forms whose full-year facts make the annual series (domestic and foreign filers). */
const ANNUAL_FORMS = new Set(['10-K', '10-K/A', '20-F', '20-F/A', '40-F', '40-F/A', '10-KT']);

const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/);

const factSchema = z.object({
  start: isoDate.optional(),
  end: isoDate,
  val: z.number(),
  accn: z.string(),
  fy: z.number().int().nullish(),
  fp: z.string().nullish(),
  form: z.string(),
  filed: isoDate,
  frame: z.string().optional(),
});

/** The envelope, checked loosely: only the chosen concept's facts are validated in full. */
const companyFactsSchema = z.object({
  cik: z.union([z.number(), z.string()]),
  entityName: z.string(),
  facts: z.record(
    z.string(),
    z.record(z.string(), z.object({ units: z.record(z.string(), z.array(z.unknown())) })),
  ),
});

/** One annual revenue figure as first reported. */
export interface FinancialFact {
  /** Fiscal year the filer reported it for (e.g. 2025 for NVIDIA's year ended 2025-01-26). */
  fiscalYear: number | null;
  /** Fiscal period: `FY` for the annual series. */
  fiscalPeriod: string | null;
  /** Last day of the period, `YYYY-MM-DD`. */
  periodEnd: string;
  /** First day of the period, `YYYY-MM-DD`. */
  periodStart: string | null;
  /** Value in U.S. dollars. */
  valueUsd: number;
  /** Form that first reported it, e.g. `10-K`, `20-F`. */
  form: string;
  /** Date that form was filed, `YYYY-MM-DD`. */
  filedOn: string;
  /** Accession number of that filing, e.g. `0001045810-25-000023`. */
  accessionNumber: string;
}

/** A company's revenue series, or why there is none. */
export interface CompanyFinancials {
  /** The us-gaap concept the series comes from, e.g. `us-gaap:Revenues`; null when none fits. */
  concept: string | null;
  /** Annual revenue, newest period first. */
  revenue: FinancialFact[];
  /** Why `revenue` is empty, or how it was chosen. */
  note: string | null;
  /**
   * Facts of the revenue concepts left out because they were malformed (the rest of the series
   * stands); reported in `extensions.sources` as `skipped`.
   */
  skipped: number;
}

/**
 * True for EDGAR's answer to a CIK without company facts: data.sec.gov serves the files from
 * object storage, whose 404 is an XML `<Error><Code>NoSuchKey</Code>...</Error>`. Any other
 * 404 (an HTML page: a wrong base URL) is an error, not "no facts", and is never cached.
 */
export function isNoSuchKey(body: string): boolean {
  return /<Code>\s*NoSuchKey\s*<\/Code>/.test(body);
}

/** Left-pads a CIK to the 10 digits EDGAR uses in URLs. */
const padCik = (cik: string) => cik.padStart(10, '0');

const days = (start: string, end: string) => (Date.parse(end) - Date.parse(start)) / 86_400_000;

/**
 * The annual series of one concept: full-year facts (about 52 weeks, from an annual form),
 * one per period, as first reported (the earliest filing that carries the period; later
 * filings repeat it as a comparative, sometimes restated). Newest period first.
 */
function annualSeries(facts: z.infer<typeof factSchema>[]): FinancialFact[] {
  const byPeriod = new Map<string, z.infer<typeof factSchema>>();
  for (const fact of facts) {
    if (!fact.start || !ANNUAL_FORMS.has(fact.form)) continue;
    const length = days(fact.start, fact.end);
    if (length < 350 || length > 380) continue;
    const key = `${fact.start}/${fact.end}`;
    const seen = byPeriod.get(key);
    if (!seen || fact.filed < seen.filed) byPeriod.set(key, fact);
  }
  return [...byPeriod.values()]
    .sort((a, b) => (a.end < b.end ? 1 : a.end > b.end ? -1 : 0))
    .map((fact) => ({
      fiscalYear: fact.fy ?? null,
      fiscalPeriod: fact.fp ?? null,
      periodEnd: fact.end,
      periodStart: fact.start ?? null,
      valueUsd: fact.val,
      form: fact.form,
      filedOn: fact.filed,
      accessionNumber: fact.accn,
    }));
}

/** Client of SEC EDGAR's company facts over a `Source` (deadline, retries, breaker, cache). */
export class SecClient {
  constructor(
    readonly source: Source,
    readonly baseUrl: string,
  ) {}

  /** The revenue series of the filer with this (unpadded) CIK; cached per CIK. */
  financials(cik: string): Promise<Sourced<CompanyFinancials>> {
    return this.source.cached(`companyfacts:${cik}`, async () => {
      const url = `${this.baseUrl}/api/xbrl/companyfacts/CIK${padCik(cik)}.json`;
      const answer = await this.source.get(url, { notFound: isNoSuchKey });
      if (answer.status === 404) {
        return {
          value: {
            concept: null,
            revenue: [],
            note: `EDGAR has no XBRL company facts for CIK ${padCik(cik)}.`,
            skipped: 0,
          },
        };
      }
      const payload = this.source.parseJson(answer.body, companyFactsSchema, 'company facts');
      return { value: this.revenueOf(payload) };
    });
  }

  private revenueOf(payload: z.infer<typeof companyFactsSchema>): CompanyFinancials {
    const gaap = payload.facts['us-gaap'] ?? {};
    let best: { concept: string; series: FinancialFact[] } | undefined;
    // One malformed fact costs only itself: it is left out and counted, not the whole series.
    let skipped = 0;
    for (const concept of REVENUE_CONCEPTS) {
      const usd = gaap[concept]?.units.USD;
      if (!usd) continue;
      const facts: z.infer<typeof factSchema>[] = [];
      for (const fact of usd) {
        const parsed = factSchema.safeParse(fact);
        if (parsed.success) facts.push(parsed.data);
        else skipped += 1;
      }
      const series = annualSeries(facts);
      const latest = series[0]?.periodEnd ?? '';
      if (series.length > 0 && (!best || latest > (best.series[0]?.periodEnd ?? ''))) {
        best = { concept, series };
      }
    }
    if (best) {
      return {
        concept: `us-gaap:${best.concept}`,
        revenue: best.series,
        note: `Annual revenue as first reported, from the us-gaap concept with the latest data (${best.concept}).`,
        skipped,
      };
    }
    if (payload.facts['ifrs-full']) {
      return {
        concept: null,
        revenue: [],
        note: `${payload.entityName} reports under IFRS (ifrs-full), not US GAAP; its IFRS revenue is not mapped here.`,
        skipped,
      };
    }
    return {
      concept: null,
      revenue: [],
      note: `${payload.entityName} has no annual us-gaap revenue facts in EDGAR.`,
      skipped,
    };
  }
}
