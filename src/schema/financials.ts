/**
 * `CompanyFinancials` and `FinancialFact`: a company's annual revenue from SEC EDGAR's XBRL
 * company facts, as `Company.financials`.
 * Source: SEC EDGAR (data.sec.gov), cached (see `SourceInfo`).
 */

import { builder } from '../builder.js';
import type { Context } from '../context.js';
import { PLAIN_LIST_MAX } from '../db/limits.js';
import { resolvedAround } from '../plan/metadata.js';
import type { SourceInfo as SourceInfoShape } from '../sources/http.js';
import { companyFinancials } from '../sources/index.js';
import type {
  FinancialFact as FactShape,
  CompanyFinancials as FinancialsShape,
} from '../sources/sec.js';
import { Company } from './company.js';
import { SourceInfo } from './source-info.js';

/** `FinancialFact`: one annual revenue figure from SEC EDGAR, as first reported. */
export const FinancialFact = builder.objectRef<FactShape>('FinancialFact').implement({
  description:
    'One annual revenue figure from SEC EDGAR, as first reported (later filings repeat a ' +
    'year as a comparative, sometimes restated; this is the figure of the first filing).',
  fields: (t) => ({
    fiscalYear: t.exposeInt('fiscalYear', {
      nullable: true,
      description:
        "The filer's fiscal year, e.g. `2025` for NVIDIA's year ended 2025-01-26. Fiscal " +
        'years differ between companies: compare by `periodEnd`.',
    }),
    fiscalPeriod: t.exposeString('fiscalPeriod', {
      nullable: true,
      description: 'Fiscal period as EDGAR labels it: `FY` for a full year.',
    }),
    periodStart: t.expose('periodStart', {
      type: 'Date',
      nullable: true,
      description: 'First day of the period.',
    }),
    periodEnd: t.expose('periodEnd', {
      type: 'Date',
      description: 'Last day of the period.',
    }),
    valueUsd: t.field({
      type: 'Decimal',
      description: 'Revenue in U.S. dollars, exact, e.g. `"130497000000"`.',
      resolve: (fact) => String(fact.valueUsd),
    }),
    form: t.exposeString('form', {
      description: 'The form that first reported it: `10-K` (domestic) or `20-F` (foreign).',
    }),
    filedOn: t.expose('filedOn', {
      type: 'Date',
      description: 'Date that form was filed with the SEC.',
    }),
    accessionNumber: t.exposeString('accessionNumber', {
      description: 'EDGAR accession number of that filing, e.g. `0001045810-25-000023`.',
    }),
  }),
});

type FinancialsResult = FinancialsShape & { source: SourceInfoShape | null };

/** `CompanyFinancials { concept revenue note source }`: `Company.financials`. */
export const CompanyFinancials = builder
  .objectRef<FinancialsResult>('CompanyFinancials')
  .implement({
    description:
      "A company's annual revenue from its SEC filings (XBRL company facts). Companies that " +
      'do not file with the SEC, or file under IFRS, have an empty `revenue` and a `note`.',
    fields: (t) => ({
      concept: t.exposeString('concept', {
        nullable: true,
        description:
          'The XBRL concept the series comes from, e.g. `us-gaap:Revenues` or ' +
          '`us-gaap:RevenueFromContractWithCustomerExcludingAssessedTax` (filers differ; the ' +
          'one with the latest data is used). Null when no series fits.',
      }),
      revenue: t.field({
        type: [FinancialFact],
        description: `Annual revenue, newest period first: the latest ${PLAIN_LIST_MAX} years at most. Empty when \`note\` says why.`,
        // A plain list holds at most PLAIN_LIST_MAX items, which is what it is charged for.
        resolve: (financials) => financials.revenue.slice(0, PLAIN_LIST_MAX),
      }),
      note: t.exposeString('note', {
        nullable: true,
        description:
          'Why `revenue` is empty (no SEC CIK, IFRS filer, no facts), or how the series was chosen.',
      }),
      source: t.expose('source', {
        type: SourceInfo,
        nullable: true,
        description:
          'Provenance: source `sec-edgar`, when it was fetched, and whether stale. Null when ' +
          'nothing was fetched (the company has no SEC CIK).',
      }),
    }),
  });

builder.drizzleObjectField(Company, 'financials', (t) =>
  t.field({
    type: CompanyFinancials,
    nullable: true,
    description:
      'Annual revenue from SEC EDGAR (XBRL company facts, by `secCik`), live and cached. For a ' +
      'company without a CIK, `revenue` is empty and `note` says why. Null with an error ' +
      '`SOURCE_UNAVAILABLE` / `SOURCE_INVALID_RESPONSE` (`extensions.source: "sec-edgar"`) when ' +
      'EDGAR fails and no cached copy exists, or `SOURCE_NOT_CONFIGURED` when the operator has ' +
      'not set the SEC contact (CHIPGATE_SEC_USER_AGENT). Only this field is affected.',
    ...resolvedAround(
      'SEC EDGAR (an external source)',
      ['secCik', 'name'],
      async (
        company: { secCik: string | null; name: string },
        _args: unknown,
        ctx: Context,
      ): Promise<FinancialsResult> => {
        if (!company.secCik) {
          return {
            concept: null,
            revenue: [],
            note: `${company.name} does not file with the SEC (no CIK on record), so EDGAR has no financials for it.`,
            skipped: 0,
            source: null,
          };
        }
        const financials = await ctx.loaders.load(companyFinancials, company.secCik);
        return { ...financials.value, source: financials.info };
      },
    ),
  }),
);
