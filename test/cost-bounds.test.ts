/**
 * Cost bounds work: every operation the differential generator writes, and the hostile
 * variants of each the limits still admit (every page size, id list and list argument as large
 * as the budget allows, then the root fields repeated under as many aliases as it allows), is
 * sent to the gateway (planned path, external sources from the fixture upstream), and what it
 * caused is compared with what it was charged (`operationComplexity`, the function the partner
 * limits charge with):
 *
 * - rows read: every row each of its SQL statements read to build the answer, as `EXPLAIN
 *   ANALYZE` counts them (rows a scan returned plus rows its filter removed, times its loops),
 *   statement by statement after the request, with the request's parameters. Rows scanned only
 *   to be counted (`totalCount`: a `count(*)` over an index) are reported apart: a count's work
 *   grows with the list, not with anything the request says, so no charge can bound it;
 * - response bytes: the body as sent.
 *
 * Every text of the store a writer accepts is at its longest, as a hostile writer would leave it
 * (`hostileText`: long and short texts, listing tickers and exchanges filled with control
 * characters; `LONGEST_URL`: the longest normalized URL, with the most JSON escapes). Each must stay under `WORK_PER_COST` per unit of charged cost; an operation refused before it
 * runs must have read nothing. Any operation over the bound fails the test with its name.
 */
import { eq } from 'drizzle-orm';
import { type GraphQLError, parse } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WORK_PER_COST } from '../src/cost.js';
import { runStatement } from '../src/db/client.js';
import { TEXT_LIMITS, type TextKind } from '../src/db/limits.js';
import {
  chips,
  companies,
  demandSignals,
  policyDecisions,
  policyDecisionUpdates,
} from '../src/db/schema.js';
import { operationComplexity } from '../src/operation-limits.js';
import { schema } from '../src/schema/index.js';
import { backend } from './helpers/database.js';
import {
  closeApp,
  createTestGateway,
  defaultLimits,
  postOn,
  type TestGateway,
  twinApp,
} from './helpers/gateway.js';
import { worstAdmitted } from './helpers/hostile.js';
import { type GeneratedOperation, generateOperations } from './helpers/operations.js';
import { probeSites } from './helpers/schema-walk.js';
import {
  startUpstream,
  UNHURRIED_SOURCES,
  type Upstream,
  upstreamSourcesConfig,
} from './helpers/upstream.js';

let upstream: Upstream;
let gateway: TestGateway;

/**
 * What a hostile writer may store in a text of `kind`: the most characters the writers accept,
 * each the costliest to answer (a control character is written `\u0001`, 6 bytes of JSON).
 */
const hostileText = (kind: TextKind) => '\u0001'.repeat(TEXT_LIMITS[kind]);

/**
 * The longest URL the `URL` scalar stores, at its costliest to answer: a normalized URL is
 * ASCII (percent-encoded, punycode host), but its query keeps `\`, which JSON writes `\\`.
 */
const LONGEST_URL = (() => {
  const head = 'https://a.example/?';
  const url = `${head}${'\\'.repeat(TEXT_LIMITS.url - head.length)}`;
  if (new URL(url).toString() !== url) throw new Error('LONGEST_URL is not normalized');
  return url;
})();

beforeAll(async () => {
  upstream = await startUpstream();
  gateway = await createTestGateway({
    planner: 'on',
    sources: upstreamSourcesConfig(upstream, UNHURRIED_SOURCES),
  });
  const { db } = gateway.database;
  const long = hostileText('longText');
  const short = hostileText('shortText');
  await db.update(policyDecisions).set({
    summary: long,
    title: short,
    authority: short,
    sourceUrl: LONGEST_URL,
  });
  await db.update(policyDecisionUpdates).set({ note: long });
  await db.update(demandSignals).set({ summary: long, reportedBy: short, sourceUrl: LONGEST_URL });
  await db.update(chips).set({
    exportControlNote: long,
    name: short,
    architecture: short,
    processNode: short,
    memoryType: short,
    sourceUrl: LONGEST_URL,
  });
  for (const company of await db.select().from(companies)) {
    await db
      .update(companies)
      .set({
        name: short,
        secFilerType: short,
        sourceUrl: LONGEST_URL,
        listings: company.listings.map((listing) => ({
          ...listing,
          ticker: hostileText('ticker'),
          exchange: hostileText('exchange'),
          note: short,
        })),
      })
      .where(eq(companies.id, company.id));
  }
});
afterAll(async () => {
  await gateway?.close();
  await upstream?.close();
});

/** The cost the limits charge for an operation, or undefined when they refuse it first. */
function charged(operation: GeneratedOperation): number | undefined {
  try {
    return operationComplexity({
      schema,
      document: parse(operation.query),
      operationName: null,
      variableValues: operation.variables ?? {},
    })?.complexity;
  } catch (error) {
    if ((error as GraphQLError).extensions) return undefined;
    throw error;
  }
}

/** A plan node of `EXPLAIN (VERBOSE, FORMAT JSON)`, as far as the row count reads it. */
interface PlanNode {
  'Node Type'?: string;
  Output?: string[];
  'Relation Name'?: string;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  'Rows Removed by Filter'?: number;
  Plans?: PlanNode[];
}

/** Rows of a plan's scans (returned plus filtered out, per loop, times loops), by purpose. */
interface Rows {
  read: number;
  counted: number;
}

/** Whether a plan node only counts the rows under it (`count(*)`). */
const isCount = (node: PlanNode) =>
  node['Node Type'] === 'Aggregate' &&
  (node.Output ?? []).length > 0 &&
  (node.Output ?? []).every((output) => /^\(?count\(\*\)\)?(::\w+)?$/.test(output));

function rowsOf(node: PlanNode, counting = false, into: Rows = { read: 0, counted: 0 }): Rows {
  const inCount = counting || isCount(node);
  if (node['Relation Name']) {
    const rows =
      ((node['Actual Rows'] ?? 0) + (node['Rows Removed by Filter'] ?? 0)) *
      (node['Actual Loops'] ?? 1);
    if (inCount) into.counted += rows;
    else into.read += rows;
  }
  for (const child of node.Plans ?? []) rowsOf(child, inCount, into);
  return into;
}

/** Rows the statements logged since the last reset read, each run again under EXPLAIN ANALYZE. */
async function statementRows(): Promise<Rows> {
  const { statements, params } = gateway.statements;
  const logged = statements.map((text, i) => [text, params[i] ?? []] as const);
  const rows: Rows = { read: 0, counted: 0 };
  for (const [text, values] of logged) {
    const [explained] = await runStatement<{ 'QUERY PLAN': unknown }>(
      gateway.database.db,
      `explain (analyze, verbose, format json) ${text}`,
      values,
    );
    const plan = explained?.['QUERY PLAN'];
    const parsed = (typeof plan === 'string' ? JSON.parse(plan) : plan) as { Plan: PlanNode }[];
    rowsOf(parsed[0]?.Plan ?? {}, false, rows);
  }
  return rows;
}

/** What one operation was charged and what it caused. */
interface Measured {
  name: string;
  cost: number | undefined;
  /** Rows read to build the answer. */
  rows: number;
  /** Rows scanned only to be counted (`totalCount`). */
  counted: number;
  bytes: number;
  status: number;
}

describe(`cost bounds work (${backend})`, () => {
  const measured: Measured[] = [];

  it('measures every generated operation and its admitted hostile variants', async () => {
    const resolvers = twinApp(gateway, 'off');
    let probes: Awaited<ReturnType<typeof probeSites>>;
    try {
      probes = await probeSites(schema, (query) => postOn(resolvers, query));
    } finally {
      await closeApp(resolvers);
    }
    const limits = defaultLimits();
    const seen = new Set<string>();
    const operations: GeneratedOperation[] = [];
    for (const operation of generateOperations(schema, probes)) {
      for (const candidate of [operation, ...worstAdmitted(operation, limits, charged)]) {
        const key = `${candidate.query}\n${JSON.stringify(candidate.variables ?? {})}`;
        if (seen.has(key)) continue;
        seen.add(key);
        operations.push(candidate);
      }
    }
    for (const operation of operations) {
      gateway.statements.reset();
      const response = await postOn(gateway.app, operation.query, operation.variables);
      const rows = await statementRows();
      measured.push({
        name: operation.name,
        cost: charged(operation),
        rows: rows.read,
        counted: rows.counted,
        bytes: Buffer.byteLength(response.text),
        status: response.status,
      });
    }
    const admitted = measured.filter((m) => m.cost !== undefined && m.cost <= limits.maxCost);
    const worst = (key: 'rows' | 'counted' | 'bytes') =>
      admitted
        .map((m) => ({ name: m.name, perCost: m[key] / Math.max(1, m.cost ?? 1), cost: m.cost }))
        .sort((a, b) => b.perCost - a.perCost)
        .slice(0, 3);
    console.log(
      `cost bounds (${backend}): ${measured.length} operations, ${admitted.length} admitted; ` +
        `most rows per cost: ${JSON.stringify(worst('rows'))}; ` +
        `most bytes per cost: ${JSON.stringify(worst('bytes'))}; ` +
        `most rows counted per cost: ${JSON.stringify(worst('counted'))}`,
    );
    expect(measured.length).toBeGreaterThan(1_000);
  }, 900_000);

  it('no admitted operation reads more rows or answers more bytes per unit of cost than WORK_PER_COST', () => {
    expect(measured.length).toBeGreaterThan(0);
    const limits = defaultLimits();
    const over = measured
      .filter((m) => m.cost !== undefined && m.cost <= limits.maxCost)
      .flatMap((m) => {
        const cost = Math.max(1, m.cost ?? 1);
        const problems: string[] = [];
        if (m.rows > WORK_PER_COST.rowsRead * cost) {
          problems.push(`${m.name}: ${m.rows} rows read for cost ${m.cost}`);
        }
        if (m.bytes > WORK_PER_COST.responseBytes * cost) {
          problems.push(`${m.name}: ${m.bytes} bytes answered for cost ${m.cost}`);
        }
        return problems;
      });
    expect(over).toEqual([]);
  });

  it('cursors, aliased as often as the shape limits allow, answer within their charge', async () => {
    // A cursor holds the row's ordering values (a chip's name among them): the generated
    // operations select one cursor per edge, a hostile caller up to the field-repeat limit.
    const cursors = Array.from(
      { length: defaultLimits().maxFieldRepeats },
      (_, i) => `c${i}: cursor`,
    );
    const operation: GeneratedOperation = {
      name: 'aliased cursors',
      query: `{ chips(first: 16) { edges { ${cursors.join(' ')} } } }`,
    };
    const cost = charged(operation) ?? 0;
    const response = await postOn(gateway.app, operation.query);
    expect(response.status).toBe(200);
    // A full page (the seed's 16 chips): a page charged for more rows than it holds hides it.
    const page = JSON.parse(response.text) as { data: { chips: { edges: unknown[] } } };
    expect(page.data.chips.edges).toHaveLength(16);
    const bytes = Buffer.byteLength(response.text);
    expect(bytes).toBeGreaterThan(16 * 10 * 2_000);
    expect(bytes).toBeLessThanOrEqual(WORK_PER_COST.responseBytes * cost);
  });

  it('an operation refused before it runs reads nothing', () => {
    expect(measured.length).toBeGreaterThan(0);
    const limits = defaultLimits();
    const refused = measured.filter((m) => m.cost === undefined || m.cost > limits.maxCost);
    expect(refused.length).toBeGreaterThan(0);
    expect(
      refused.filter((m) => m.rows + m.counted > 0).map((m) => `${m.name}: ${m.rows} rows`),
    ).toEqual([]);
  });
});
