/**
 * What the fixture upstream (`upstream.ts`) serves: Federal Register documents (the six BIS
 * rules of the seed dataset and extra ones tests add), SEC EDGAR company facts (NVIDIA's, AMD's
 * and TSMC's filings) and two news feeds (RSS 2.0, Atom) plus a Latin-1 RSS feed, in their
 * documented formats.
 */

/** A Federal Register document in the API's JSON shape. */
export interface FixtureDocument {
  document_number: string;
  title: string;
  type: string;
  action?: string | null;
  abstract?: string | null;
  publication_date: string;
  effective_on?: string | null;
  citation?: string | null;
  html_url: string;
  pdf_url?: string | null;
  agencies: {
    raw_name: string;
    name: string;
    id: number;
    slug: string;
    parent_id: number | null;
  }[];
  regulation_id_numbers?: string[];
}

const BIS_AGENCIES = [
  {
    raw_name: 'DEPARTMENT OF COMMERCE',
    name: 'Commerce Department',
    id: 54,
    slug: 'commerce-department',
    parent_id: null,
  },
  {
    raw_name: 'Bureau of Industry and Security',
    name: 'Industry and Security Bureau',
    id: 241,
    slug: 'industry-and-security-bureau',
    parent_id: 54,
  },
];

/** A BIS document in the API's shape (html/pdf URLs follow the documented patterns). */
export function bisDocument(
  fields: Pick<FixtureDocument, 'document_number' | 'title' | 'publication_date'> &
    Partial<FixtureDocument>,
): FixtureDocument {
  const [y, m, d] = fields.publication_date.split('-');
  return {
    type: 'Rule',
    action: 'Final rule.',
    abstract: null,
    effective_on: null,
    citation: null,
    html_url: `https://www.federalregister.gov/documents/${y}/${m}/${d}/${fields.document_number}/document`,
    pdf_url: `https://www.govinfo.gov/content/pkg/FR-${fields.publication_date}/pdf/${fields.document_number}.pdf`,
    agencies: BIS_AGENCIES,
    regulation_id_numbers: [],
    ...fields,
  };
}

/** The six BIS rules of the seed dataset, as the register publishes them. */
export const SEED_DOCUMENTS: FixtureDocument[] = [
  bisDocument({
    document_number: '2022-21658',
    title:
      'Implementation of Additional Export Controls: Certain Advanced Computing and Semiconductor Manufacturing Items; Supercomputer and Semiconductor End Use; Entity List Modification',
    type: 'Rule',
    action: 'Interim final rule; request for comments.',
    abstract:
      "BIS amends the EAR to implement controls on advanced computing items and semiconductor manufacturing items destined for the People's Republic of China.",
    publication_date: '2022-10-13',
    effective_on: '2022-10-07',
    citation: '87 FR 62186',
    regulation_id_numbers: ['0694-AI94'],
  }),
  bisDocument({
    document_number: '2023-23055',
    title:
      'Implementation of Additional Export Controls: Certain Advanced Computing Items; Supercomputer and Semiconductor End Use; Updates and Corrections',
    action: 'Interim final rule; request for comments.',
    abstract: 'BIS revises the advanced computing controls, including for China and Macau.',
    publication_date: '2023-10-25',
    effective_on: '2023-11-17',
    citation: '88 FR 73458',
  }),
  bisDocument({
    document_number: '2024-28270',
    title:
      'Foreign-Produced Direct Product Rule Additions, and Refinements to Controls for Advanced Computing and Semiconductor Manufacturing Items',
    publication_date: '2024-12-05',
    effective_on: '2024-12-02',
    citation: '89 FR 96790',
  }),
  bisDocument({
    document_number: '2025-00636',
    title: 'Framework for Artificial Intelligence Diffusion',
    publication_date: '2025-01-15',
    effective_on: '2025-01-13',
    citation: '90 FR 4544',
  }),
  bisDocument({
    document_number: '2025-00711',
    title:
      'Implementation of Additional Due Diligence Measures for Advanced Computing Integrated Circuits; Amendments and Clarifications; and Extension of Comment Period',
    // The seed has no publication date for this rule; this one is illustrative.
    publication_date: '2025-01-16',
    effective_on: '2025-01-16',
    citation: null,
  }),
  bisDocument({
    document_number: '2026-00789',
    title: 'Revision to License Review Policy for Advanced Computing Commodities',
    abstract:
      'BIS revises the license review policy for advanced computing commodities destined for China.',
    publication_date: '2026-01-15',
    effective_on: '2026-01-15',
    citation: '91 FR 1684',
    regulation_id_numbers: ['0694-AK43'],
  }),
];

/** BIS documents the register has beyond the seed's (what a sync creates). */
export const EXTRA_DOCUMENTS: FixtureDocument[] = [
  bisDocument({
    document_number: '2023-01234',
    title: 'Additions to the Entity List',
    publication_date: '2023-03-06',
    effective_on: '2023-03-06',
    citation: '88 FR 13673',
    abstract: 'BIS adds entities in China and Russia to the Entity List.',
  }),
  bisDocument({
    document_number: '2024-05678',
    title:
      'Export Administration Regulations: Request for Comments on Data Center Validated End Users',
    type: 'Proposed Rule',
    action: 'Proposed rule.',
    publication_date: '2024-03-29',
    citation: '89 FR 22000',
  }),
  bisDocument({
    document_number: '2025-11111',
    title: 'Advisory Committee Meeting Notice',
    type: 'Notice',
    action: 'Notice of open meeting.',
    publication_date: '2025-06-02',
    citation: '90 FR 23000',
  }),
];

interface Fact {
  start?: string;
  end: string;
  val: number;
  accn: string;
  fy: number;
  fp: string;
  form: string;
  filed: string;
  frame?: string;
}

const fact = (
  start: string,
  end: string,
  val: number,
  fy: number,
  fp: string,
  form: string,
  filed: string,
  accn: string,
): Fact => ({ start, end, val, accn, fy, fp, form, filed });

/** NVIDIA's annual revenue (fiscal years end late January), with comparatives and a quarter. */
const NVIDIA_REVENUES: Fact[] = [
  fact(
    '2022-01-31',
    '2023-01-29',
    26_974_000_000,
    2023,
    'FY',
    '10-K',
    '2023-02-24',
    '0001045810-23-000017',
  ),
  // The same year again as a comparative in the next 10-K: not "as first reported".
  fact(
    '2022-01-31',
    '2023-01-29',
    26_974_000_000,
    2024,
    'FY',
    '10-K',
    '2024-02-21',
    '0001045810-24-000029',
  ),
  fact(
    '2023-01-30',
    '2024-01-28',
    60_922_000_000,
    2024,
    'FY',
    '10-K',
    '2024-02-21',
    '0001045810-24-000029',
  ),
  fact(
    '2024-01-29',
    '2025-01-26',
    130_497_000_000,
    2025,
    'FY',
    '10-K',
    '2025-02-26',
    '0001045810-25-000023',
  ),
  // A quarter (10-Q): not part of the annual series.
  fact(
    '2025-01-27',
    '2025-04-27',
    44_062_000_000,
    2026,
    'Q1',
    '10-Q',
    '2025-05-28',
    '0001045810-25-000116',
  ),
];

/** Company facts by unpadded CIK. */
export const COMPANY_FACTS: Record<string, object> = {
  '1045810': {
    cik: 1045810,
    entityName: 'NVIDIA CORP',
    facts: {
      dei: { EntityCommonStockSharesOutstanding: { label: 'Shares', units: { shares: [] } } },
      'us-gaap': {
        Revenues: { label: 'Revenues', description: 'Revenue.', units: { USD: NVIDIA_REVENUES } },
      },
    },
  },
  '2488': {
    cik: 2488,
    entityName: 'ADVANCED MICRO DEVICES INC',
    facts: {
      'us-gaap': {
        // Older filings used Revenues; recent ones the ASC 606 concept, which wins.
        Revenues: {
          label: 'Revenues',
          units: {
            USD: [
              fact(
                '2016-12-27',
                '2017-12-30',
                5_253_000_000,
                2017,
                'FY',
                '10-K',
                '2018-02-27',
                '0000002488-18-000042',
              ),
            ],
          },
        },
        RevenueFromContractWithCustomerExcludingAssessedTax: {
          label: 'Revenue from Contract with Customer, Excluding Assessed Tax',
          units: {
            USD: [
              fact(
                '2022-12-25',
                '2023-12-30',
                22_680_000_000,
                2023,
                'FY',
                '10-K',
                '2024-01-31',
                '0000002488-24-000012',
              ),
              fact(
                '2023-12-31',
                '2024-12-28',
                25_785_000_000,
                2024,
                'FY',
                '10-K',
                '2025-02-05',
                '0000002488-25-000012',
              ),
            ],
          },
        },
      },
    },
  },
  '1046179': {
    cik: 1046179,
    entityName: 'TAIWAN SEMICONDUCTOR MANUFACTURING CO LTD',
    facts: {
      'ifrs-full': {
        Revenue: {
          label: 'Revenue',
          units: {
            TWD: [
              fact(
                '2024-01-01',
                '2024-12-31',
                2_894_307_699_000,
                2024,
                'FY',
                '20-F',
                '2025-04-17',
                '0001046179-25-000010',
              ),
            ],
          },
        },
      },
    },
  },
};

/** The RSS 2.0 feed: items from the seed's story, one broken item, HTML in descriptions. */
export const CHIPS_RSS = `<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel>
    <title>Chip Policy Wire</title>
    <link>https://news.example.com/</link>
    <description>AI-chip export news</description>
    <item>
      <title>Washington approves Nvidia H200 sales to China with a 25% revenue share</title>
      <link>https://news.example.com/2025/12/08/h200-approval</link>
      <description><![CDATA[<p>The White House cleared <b>Nvidia</b>'s H200 for approved customers in China &amp; took a 25% cut.</p>]]></description>
      <pubDate>Mon, 08 Dec 2025 18:30:00 GMT</pubDate>
      <guid isPermaLink="true">https://news.example.com/2025/12/08/h200-approval</guid>
    </item>
    <item>
      <title>Customs told to stop H200 shipments at the border</title>
      <link>https://news.example.com/2026/01/14/h200-customs</link>
      <description>Beijing instructed customs agents that the Nvidia chip is not permitted.</description>
      <pubDate>Wed, 14 Jan 2026 09:00:00 GMT</pubDate>
    </item>
    <item>
      <title>A broken item without link or date</title>
      <description>Skipped by the parser, not the whole feed.</description>
    </item>
    <item>
      <title>H20 sales fell to about $50 million last quarter</title>
      <link>https://news.example.com/2025/11/19/h20-sales</link>
      <description>The China-only part nearly vanished from the results.</description>
      <pubDate>Wed, 19 Nov 2025 22:00:00 GMT</pubDate>
    </item>
    <item>
      <title>AMD expects $800M charge on MI308 license requirement</title>
      <link>https://news.example.com/2025/04/16/amd-mi308</link>
      <description>&lt;p&gt;Advanced Micro Devices flagged inventory charges.&lt;/p&gt;</description>
      <pubDate>Wed, 16 Apr 2025 21:15:00 GMT</pubDate>
    </item>
  </channel>
</rss>`;

/** The Atom feed: a relative link, an entry with only `updated`. */
export const POLICY_ATOM = `<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title type="text">Export Control Digest</title>
  <id>urn:uuid:60a76c80-d399-11d9-b93C-0003939e0af6</id>
  <updated>2026-01-29T12:00:00Z</updated>
  <entry>
    <title type="html">ByteDance, Alibaba and Tencent line up &lt;em&gt;H200&lt;/em&gt; orders</title>
    <id>urn:uuid:1</id>
    <link rel="alternate" type="text/html" href="https://digest.example.org/2026/01/28/h200-orders"/>
    <published>2026-01-28T08:00:00Z</published>
    <updated>2026-01-28T10:00:00Z</updated>
    <summary type="html">&lt;p&gt;China approved a first batch; Nvidia's buyers queue up.&lt;/p&gt;</summary>
  </entry>
  <entry>
    <title>Huawei ramps Ascend 910C output</title>
    <id>urn:uuid:2</id>
    <link href="/2025/09/30/ascend-910c"/>
    <updated>2025-09-30T06:00:00Z</updated>
    <content type="text">Domestic alternatives gain share.</content>
  </entry>
</feed>`;

/** A feed in ISO-8859-1, declared in its XML prolog only (the HTTP header has no charset). */
export const LATIN1_RSS = Buffer.from(
  `<?xml version="1.0" encoding="ISO-8859-1"?>
<rss version="2.0"><channel><title>Halbleiter-Nachrichten</title>
  <item>
    <title>Samsung liefert HBM3E für Nvidia – Qualifizierung abgeschlossen</title>
    <link>https://halbleiter.example.de/samsung-hbm3e</link>
    <pubDate>Fri, 19 Dec 2025 10:00:00 +0100</pubDate>
    <description>Größere Stückzahlen ab dem ersten Quartal.</description>
  </item>
</channel></rss>`.replace('–', '-'),
  'latin1',
);
