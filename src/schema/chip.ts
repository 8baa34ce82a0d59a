/**
 * `Chip`: AI accelerators with the specifications export rules are written against (BIS Total
 * Processing Performance, performance density), the decisions that name each chip (with their
 * effect), the demand signals about it, and its derived export status.
 * Source: the curated store (`chips`, `policy_decision_chips`).
 */
import { createContextCache } from '@pothos/core';
import { drizzleConnectionHelpers } from '@pothos/plugin-drizzle';
import DataLoader from 'dataloader';
import { and, eq, type SQL, sql } from 'drizzle-orm';
import type { PgColumn } from 'drizzle-orm/pg-core';
import { builder, connectionComplexity, nodeConnection } from '../builder.js';
import type { Context } from '../context.js';
import { queryRows } from '../db/client.js';
import type { ExportStatusRow } from '../db/export-status.js';
import { chips } from '../db/schema.js';
import { inList } from '../db/sql.js';
import { type ChipRow, upsertChip } from '../db/writes/reference.js';
import {
  DemandSignalConnection,
  DemandSignalFilter,
  demandSignalFilterSql,
} from './demand-signal.js';
import { FactConfidence, PolicyEffect } from './enums.js';
import {
  decisionColumnsOf,
  PolicyDecision,
  PolicyDecisionFilter,
  type PolicyDecisionFilterShape,
  policyDecisionFilterSql,
} from './policy-decision.js';
import { mutationResult } from './results.js';

export const ChipFilter = builder.inputType('ChipFilter', {
  description: 'Narrows a list of chips. All given conditions must hold.',
  fields: (t) => ({
    designer: t.string({
      description: 'Designed by this company (a company slug, e.g. `nvidia`).',
    }),
    architecture: t.string({
      description: 'Architecture contains this text, ignoring case (e.g. `hopper`).',
    }),
    designedForChinaMarket: t.boolean({
      description: 'True: only chips cut down for China (A800, H20, ...); false: only the others.',
    }),
    minTpp: t.float({ description: 'TPP at least this (chips with unknown TPP are excluded).' }),
    maxTpp: t.float({ description: 'TPP at most this (chips with unknown TPP are excluded).' }),
  }),
});

type ChipFilterShape =
  | {
      designer?: string | null;
      architecture?: string | null;
      designedForChinaMarket?: boolean | null;
      minTpp?: number | null;
      maxTpp?: number | null;
    }
  | null
  | undefined;

type ChipColumns = {
  designerId: PgColumn;
  architecture: PgColumn;
  designedForChinaMarket: PgColumn;
  tpp: PgColumn;
};

/** The `ChipFilter` as SQL over `table` (the real table or a query's alias). */
export function chipFilterSql(table: ChipColumns, filter: ChipFilterShape): SQL | undefined {
  if (!filter) return undefined;
  const conditions: SQL[] = [];
  if (filter.designer != null) {
    conditions.push(
      sql`${table.designerId} = (select co_f.id from companies co_f where co_f.slug = ${filter.designer})`,
    );
  }
  if (filter.architecture != null) {
    const escaped = filter.architecture.replace(/[\\%_]/g, (c) => `\\${c}`);
    conditions.push(sql`${table.architecture} ilike ${`%${escaped}%`}`);
  }
  if (filter.designedForChinaMarket != null) {
    conditions.push(eq(table.designedForChinaMarket, filter.designedForChinaMarket));
  }
  if (filter.minTpp != null) conditions.push(sql`${table.tpp} >= ${filter.minTpp}`);
  if (filter.maxTpp != null) conditions.push(sql`${table.tpp} <= ${filter.maxTpp}`);
  return conditions.length ? and(...conditions) : undefined;
}

/** Today's date in UTC as `YYYY-MM-DD`, the default `asOf` of `exportStatus`. */
const todayUtc = () => new Date().toISOString().slice(0, 10);

interface ExportStatusShape extends ExportStatusRow {
  chipId: number;
  from: string;
  to: string;
  asOf: string;
}

export const ExportStatus = builder.objectRef<ExportStatusShape>('ExportStatus');

const chipPolicyDecisionArgs = builder.args((t) => ({
  filter: t.field({ type: PolicyDecisionFilter, description: 'Narrows the decisions.' }),
}));

/**
 * Per request: how many decisions name each chip under a filter. One statement per distinct
 * filter, for every chip the request asks about.
 */
const decisionCounts = createContextCache(
  (ctx: Context) =>
    new DataLoader<{ chipId: number; filter: PolicyDecisionFilterShape }, number, string>(
      async (keys) => {
        const byFilter = new Map<
          string,
          { filter: PolicyDecisionFilterShape; chipIds: number[] }
        >();
        for (const key of keys) {
          const filterKey = JSON.stringify(key.filter ?? null);
          const group = byFilter.get(filterKey) ?? { filter: key.filter, chipIds: [] };
          group.chipIds.push(key.chipId);
          byFilter.set(filterKey, group);
        }
        const counts = new Map<string, number>();
        await Promise.all(
          [...byFilter.entries()].map(async ([filterKey, group]) => {
            const rows = await queryRows<{ chip_id: number; count: number }>(
              ctx.db,
              sql`select pdc_c.chip_id, count(*)::int as count
                    from policy_decision_chips pdc_c
                    join policy_decisions d_c on d_c.id = pdc_c.decision_id
                   where pdc_c.chip_id in ${inList(group.chipIds)}
                     and ${policyDecisionFilterSql(decisionColumnsOf('d_c'), group.filter) ?? sql`true`}
                   group by pdc_c.chip_id`,
            );
            for (const row of rows) counts.set(`${row.chip_id}|${filterKey}`, Number(row.count));
          }),
        );
        return keys.map(
          (key) => counts.get(`${key.chipId}|${JSON.stringify(key.filter ?? null)}`) ?? 0,
        );
      },
      { cacheKeyFn: (key) => `${key.chipId}|${JSON.stringify(key.filter ?? null)}` },
    ),
);

/** Chip -> decisions through the link rows, so each edge can carry the link's `effect`. */
const chipPolicyDecisions = drizzleConnectionHelpers(builder, 'policyDecisionChips', {
  args: () => chipPolicyDecisionArgs,
  query: (args) => ({
    extras: {
      decisionAnnouncedOn: (link) =>
        sql<string>`(select d_o.announced_on from policy_decisions d_o where d_o.id = ${link.decisionId})`,
      decisionSlug: (link) =>
        sql<string>`(select d_o.slug from policy_decisions d_o where d_o.id = ${link.decisionId})`,
    },
    where: args.filter
      ? {
          RAW: (link) =>
            sql`exists (select 1 from policy_decisions d_f where d_f.id = ${link.decisionId} and ${
              policyDecisionFilterSql(decisionColumnsOf('d_f'), args.filter) ?? sql`true`
            })`,
        }
      : undefined,
    orderBy: { decisionAnnouncedOn: 'desc', decisionSlug: 'desc' },
  }),
  select: (nestedSelection) => ({
    columns: { effect: true },
    with: { decision: nestedSelection() },
  }),
  resolveNode: (link) => link.decision,
});

export const Chip = builder.drizzleNode('chips', {
  name: 'Chip',
  // Load only the columns the selected fields declare (and the slug the global ID is made
  // of), not the whole row.
  select: { columns: { slug: true } },
  description:
    'An AI accelerator, with the specifications U.S. export rules (ECCN 3A090) are written ' +
    'against. Spec figures are dense (no sparsity); null means not verified, not zero.',
  id: {
    column: (chip) => chip.slug,
    description: 'Global ID: base64 of `Chip:<slug>`.',
  },
  fields: (t) => ({
    slug: t.exposeString('slug', { description: 'Stable human key, e.g. `h200`. Immutable.' }),
    name: t.exposeString('name', { description: 'Product name, e.g. `NVIDIA H200`.' }),
  }),
});

builder.drizzleObjectFields(Chip, (t) => ({
  designer: t.relation('designer', { description: 'The company that designs the chip.' }),
  foundry: t.relation('foundry', {
    nullable: true,
    description: 'The company that manufactures it, when known.',
  }),
  architecture: t.exposeString('architecture', {
    nullable: true,
    description: 'Microarchitecture and die, e.g. `Hopper (GH100)`.',
  }),
  launchYear: t.exposeInt('launchYear', { nullable: true, description: 'Year of launch.' }),
  announcedOn: t.field({
    type: 'Date',
    nullable: true,
    description: 'Date the chip was announced, when recorded.',
    select: { columns: { announcedOn: true } },
    resolve: (chip) => chip.announcedOn,
  }),
  processNode: t.exposeString('processNode', {
    nullable: true,
    description: 'Manufacturing process, e.g. `TSMC 4N`.',
  }),
  memoryGb: t.exposeFloat('memoryGb', { nullable: true, description: 'Memory capacity in GB.' }),
  memoryType: t.exposeString('memoryType', {
    nullable: true,
    description: 'Memory type, e.g. `HBM3e`.',
  }),
  memoryBandwidthTBs: t.exposeFloat('memoryBandwidthTbs', {
    nullable: true,
    description: 'Memory bandwidth in TB/s.',
  }),
  fp16DenseTflops: t.exposeFloat('fp16DenseTflops', {
    nullable: true,
    description: 'Dense FP16/BF16 throughput in TFLOPS (no sparsity).',
  }),
  fp8DenseTflops: t.exposeFloat('fp8DenseTflops', {
    nullable: true,
    description: 'Dense FP8 throughput in TFLOPS (no sparsity).',
  }),
  tdpWatts: t.exposeInt('tdpWatts', {
    nullable: true,
    description: 'Thermal design power in W.',
  }),
  dieAreaMm2: t.exposeFloat('dieAreaMm2', { nullable: true, description: 'Die area in mm².' }),
  interconnectGBs: t.exposeFloat('interconnectGbs', {
    nullable: true,
    description: 'Chip-to-chip interconnect bandwidth in GB/s, bidirectional.',
  }),
  tpp: t.exposeFloat('tpp', {
    nullable: true,
    description:
      'BIS Total Processing Performance (ECCN 3A090): dense TOPS x operand bit length, e.g. ' +
      'FP16 TFLOPS x 16. The 2023 rule controls chips at TPP >= 4800.',
  }),
  performanceDensity: t.exposeFloat('performanceDensity', {
    nullable: true,
    description: "TPP divided by die area in mm² (the 2023 rule's second test).",
  }),
  derivedFields: t.exposeStringList('derivedFields', {
    description:
      'Names of the fields above computed by the dataset (e.g. `tpp`) rather than quoted from a source.',
  }),
  designedForChinaMarket: t.exposeBoolean('designedForChinaMarket', {
    description:
      'True for variants cut down to fit U.S. export limits for China (A800, H800, H20, ...).',
  }),
  derivedFrom: t.relation('derivedFrom', {
    nullable: true,
    description: 'The chip this one was derived from (H20 from H100, GB200 from B200, ...).',
  }),
  derivatives: t.relation('derivatives', {
    description: 'Chips derived from this one, by name.',
    query: { orderBy: { name: 'asc', slug: 'asc' } },
  }),
  exportControlNote: t.exposeString('exportControlNote', {
    nullable: true,
    description:
      "Free-text summary of the chip's export-control history (see `exportStatus` for the derived status).",
  }),
  sourceUrl: t.field({
    type: 'URL',
    nullable: true,
    description: 'Where the specifications were checked.',
    select: { columns: { sourceUrl: true } },
    resolve: (chip) => chip.sourceUrl,
  }),
  confidence: t.field({
    type: FactConfidence,
    description: 'VERIFIED when confirmed in `sourceUrl`, RECALLED otherwise.',
    select: { columns: { confidence: true } },
    resolve: (chip) => chip.confidence,
  }),
  policyDecisions: t.connection(
    {
      type: PolicyDecision,
      description:
        'Decisions that name this chip, newest announcement first (ties by slug); each edge ' +
        'carries the effect on this chip.',
      complexity: connectionComplexity(['date', 'slug', 'int', 'int']),
      args: chipPolicyDecisions.getArgs(),
      select: (args, ctx, nestedSelection) => ({
        with: {
          policyDecisionLinks: chipPolicyDecisions.getQuery(args, ctx, nestedSelection),
        },
        columns: { id: true },
      }),
      resolve: (chip, args, ctx) => ({
        ...chipPolicyDecisions.resolve(chip.policyDecisionLinks, args, ctx),
        // Counted only when selected, for all chips of the request in one statement.
        totalCount: () => decisionCounts(ctx).load({ chipId: chip.id, filter: args.filter }),
      }),
    },
    {
      name: 'ChipPolicyDecisionConnection',
      description: 'Policy decisions naming a chip, each with its effect on the chip.',
      fields: (c) => ({
        totalCount: c.int({
          description: 'Number of matching decisions across all pages.',
          resolve: (connection) =>
            (connection as unknown as { totalCount: () => Promise<number> }).totalCount(),
        }),
      }),
    },
    {
      name: 'ChipPolicyDecisionEdge',
      description: 'A decision naming the chip, with what it does to the chip.',
      fields: (edge) => ({
        effect: edge.field({
          type: PolicyEffect,
          description: 'What the decision does to this chip for the destinations it covers.',
          resolve: (link) => link.effect,
        }),
      }),
    },
  ),
  demandSignals: t.relatedConnection(
    'demandSignals',
    {
      description: 'Demand signals about this chip, newest first (ties by slug).',
      complexity: connectionComplexity(['date', 'slug']),
      totalCount: true,
      args: { filter: t.arg({ type: DemandSignalFilter, description: 'Narrows the signals.' }) },
      query: (args) => ({
        where: { RAW: (table) => demandSignalFilterSql(table, args.filter) ?? sql`true` },
        orderBy: { observedOn: 'desc', slug: 'desc' },
      }),
    },
    DemandSignalConnection,
  ),
  exportStatus: t.field({
    type: ExportStatus,
    description:
      'Whether this chip may go from `from` to `to` on `asOf`, with the deciding decisions. ' +
      'E.g. H200 US->CN on 2026-01-20: export PERMITTED_WITH_CONDITIONS (Proclamation 11002), ' +
      'import BANNED (Chinese customs, until 2026-01-24).',
    args: {
      from: t.arg({
        type: 'CountryCode',
        required: true,
        defaultValue: 'US',
        description: 'Exporting country (ISO 3166-1 alpha-2).',
      }),
      to: t.arg({
        type: 'CountryCode',
        required: true,
        defaultValue: 'CN',
        description: 'Importing country (ISO 3166-1 alpha-2).',
      }),
      asOf: t.arg({ type: 'Date', description: 'The date to answer for; default today (UTC).' }),
    },
    select: { columns: { id: true } },
    resolve: async (chip, args, ctx) => {
      const key = {
        chipId: chip.id,
        from: args.from,
        to: args.to,
        asOf: args.asOf ?? todayUtc(),
      };
      const row = await ctx.loaders.exportStatus.load(key);
      return { ...key, ...row };
    },
  }),
}));

/** The connection type shared by every list of chips. */
export const ChipConnection = nodeConnection(Chip, 'Chip', 'chips');

ExportStatus.implement({
  description:
    'Whether a chip may move from one country to another on a date, derived from the ' +
    'decisions in force then. A decision is in force on date D when it was announced by D, ' +
    'its `effectiveOn` is empty or by D, and its status on D was APPROVED or IN_EFFECT. Each ' +
    'side takes the decision announced last among those naming the chip.',
  fields: (t) => ({
    chip: t.field({
      type: Chip,
      description: 'The chip.',
      resolve: (status) => ({ id: status.chipId }) as never,
    }),
    from: t.field({
      type: 'CountryCode',
      description: 'Exporting country.',
      resolve: (s) => s.from,
    }),
    to: t.field({ type: 'CountryCode', description: 'Importing country.', resolve: (s) => s.to }),
    asOf: t.field({
      type: 'Date',
      description: 'The date the status holds for.',
      resolve: (s) => s.asOf,
    }),
    exportEffect: t.field({
      type: PolicyEffect,
      nullable: true,
      description:
        "Effect of the exporting country's decision in force; null when none is recorded.",
      resolve: (s) => s.exportEffect,
    }),
    exportDecision: t.field({
      type: PolicyDecision,
      nullable: true,
      description: 'The exporting-side decision that sets `exportEffect`.',
      resolve: (s) => (s.exportDecisionId == null ? null : ({ id: s.exportDecisionId } as never)),
    }),
    importEffect: t.field({
      type: PolicyEffect,
      nullable: true,
      description:
        "Effect of the importing country's decision in force; null when none is recorded.",
      resolve: (s) => s.importEffect,
    }),
    importDecision: t.field({
      type: PolicyDecision,
      nullable: true,
      description: 'The importing-side decision that sets `importEffect`.',
      resolve: (s) => (s.importDecisionId == null ? null : ({ id: s.importDecisionId } as never)),
    }),
  }),
});

builder.queryFields((t) => ({
  chip: t.drizzleField({
    type: 'chips',
    nullable: true,
    description: 'A chip by slug, e.g. `h200`; null when there is none.',
    args: { slug: t.arg.string({ required: true, description: 'The chip slug.' }) },
    resolve: (query, _root, args, ctx) =>
      ctx.db.query.chips.findFirst(query({ where: { slug: args.slug } })),
  }),
  chips: t.drizzleConnection(
    {
      type: 'chips',
      description: 'All chips, by name, then slug (byte order).',
      complexity: connectionComplexity(['text', 'slug']),
      args: { filter: t.arg({ type: ChipFilter, description: 'Narrows the list.' }) },
      totalCount: (_parent, args, ctx) => ctx.db.$count(chips, chipFilterSql(chips, args.filter)),
      resolve: (query, _parent, args, ctx) =>
        ctx.db.query.chips.findMany(
          query({
            where: { RAW: (table) => chipFilterSql(table, args.filter) ?? sql`true` },
            orderBy: { name: 'asc', slug: 'asc' },
          }),
        ),
    },
    ChipConnection,
  ),
}));

export const UpsertChipInput = builder.inputType('UpsertChipInput', {
  description:
    'A chip to create or update, keyed by `slug`. Required fields are always written. An ' +
    'optional field left out keeps its stored value; an explicit null clears it. Numbers are ' +
    'not negative.',
  fields: (t) => ({
    slug: t.string({
      required: true,
      description:
        'The key: lower-case letters and digits joined by single hyphens, at most 100 ' +
        'characters, e.g. `h200`. A new slug creates the chip.',
    }),
    name: t.string({ required: true, description: 'Product name, e.g. `NVIDIA H200`.' }),
    designer: t.string({ required: true, description: 'Slug of the designing company.' }),
    foundry: t.string({ description: 'Slug of the manufacturing company.' }),
    derivedFrom: t.string({ description: 'Slug of the chip this one was derived from.' }),
    architecture: t.string({ description: 'Microarchitecture and die, e.g. `Hopper (GH100)`.' }),
    launchYear: t.int({ description: 'Year of launch, 1950 to 2100.' }),
    announcedOn: t.field({ type: 'Date', description: 'Date the chip was announced.' }),
    processNode: t.string({ description: 'Manufacturing process, e.g. `TSMC 4N`.' }),
    memoryGb: t.float({ description: 'Memory capacity in GB.' }),
    memoryType: t.string({ description: 'Memory type, e.g. `HBM3e`.' }),
    memoryBandwidthTBs: t.float({ description: 'Memory bandwidth in TB/s.' }),
    fp16DenseTflops: t.float({ description: 'Dense FP16/BF16 throughput in TFLOPS.' }),
    fp8DenseTflops: t.float({ description: 'Dense FP8 throughput in TFLOPS.' }),
    tdpWatts: t.int({ description: 'Thermal design power in W.' }),
    dieAreaMm2: t.float({ description: 'Die area in mm².' }),
    interconnectGBs: t.float({ description: 'Interconnect bandwidth in GB/s, bidirectional.' }),
    tpp: t.float({ description: 'BIS Total Processing Performance.' }),
    performanceDensity: t.float({ description: 'TPP divided by die area in mm².' }),
    designedForChinaMarket: t.boolean({
      description: 'True for variants cut down for China; default false on create.',
    }),
    exportControlNote: t.string({ description: 'Free-text export-control history.' }),
    sourceUrl: t.field({ type: 'URL', description: 'Where the specifications were checked.' }),
    confidence: t.field({
      type: FactConfidence,
      required: true,
      description: 'VERIFIED when confirmed in `sourceUrl`, RECALLED otherwise.',
    }),
  }),
});

const UpsertChipSuccess = builder
  .objectRef<{ chip: ChipRow; created: boolean }>('UpsertChipSuccess')
  .implement({
    description: 'The chip was created or updated.',
    fields: (t) => ({
      chip: t.field({
        type: Chip,
        description: 'The chip as stored now.',
        resolve: (result) => result.chip as never,
      }),
      created: t.exposeBoolean('created', {
        description: 'True when the slug was new and the chip was created.',
      }),
    }),
  });

builder.mutationField('upsertChip', (t) =>
  t.field({
    type: mutationResult(
      'UpsertChipResult',
      UpsertChipSuccess,
      'The stored chip, or why nothing was written.',
    ),
    description:
      'Creates a chip or corrects one, keyed by slug. Needs the `write` scope. ' +
      'ValidationError for bad fields or an unknown designer, foundry or `derivedFrom` chip.',
    args: {
      input: t.arg({
        type: UpsertChipInput,
        required: true,
        description: 'The chip, keyed by slug.',
      }),
    },
    resolve: (_root, { input }, ctx) => upsertChip(ctx.db, input),
  }),
);
