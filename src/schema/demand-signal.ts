/**
 * `DemandSignal`: market evidence around AI chips (orders, interest, production ramps,
 * reported revenue, write-downs), naming the companies involved and usually a chip.
 * Source: the curated store (`demand_signals`, `demand_signal_companies`).
 */
import { and, type SQL, sql } from 'drizzle-orm';
import type { PgColumn } from 'drizzle-orm/pg-core';
import { builder, connectionComplexity, nodeConnection } from '../builder.js';
import { demandSignals } from '../db/schema.js';
import { inList } from '../db/sql.js';
import { type DemandSignalRow, recordDemandSignal } from '../db/writes/demand-signals.js';
import type { SubscriberItem } from '../pubsub/subscriber.js';
import { eventOf, matchesDemandSignalEvent } from '../pubsub/topics.js';
import { Company } from './company.js';
import {
  DemandSignalKind,
  DemandSignalOrder,
  FactConfidence,
  SignalDirection,
  SignalStrength,
} from './enums.js';
import { AFTER_EVENT_CURSOR, checkedAfter, encodeEventCursor } from './node.js';
import { mutationResult } from './results.js';

export const DemandSignalFilter = builder.inputType('DemandSignalFilter', {
  description: 'Narrows a list of demand signals. All given conditions must hold.',
  fields: (t) => ({
    kind: t.field({ type: [DemandSignalKind], description: 'Of any of these kinds.' }),
    chip: t.string({ description: 'About this chip (a chip slug, e.g. `h200`).' }),
    company: t.string({ description: 'Naming this company (a company slug, e.g. `bytedance`).' }),
    observedFrom: t.field({ type: 'Date', description: 'Observed on or after this date.' }),
    observedTo: t.field({ type: 'Date', description: 'Observed on or before this date.' }),
  }),
});

type DemandSignalFilterShape =
  | {
      kind?: string[] | null;
      chip?: string | null;
      company?: string | null;
      observedFrom?: string | null;
      observedTo?: string | null;
    }
  | null
  | undefined;

type SignalColumns = { id: PgColumn; kind: PgColumn; chipId: PgColumn; observedOn: PgColumn };

/** The `DemandSignalFilter` as SQL over `table` (the real table or a query's alias). */
export function demandSignalFilterSql(
  table: SignalColumns,
  filter: DemandSignalFilterShape,
): SQL | undefined {
  if (!filter) return undefined;
  const conditions: SQL[] = [];
  if (filter.kind?.length) conditions.push(sql`${table.kind} in ${inList(filter.kind)}`);
  if (filter.chip != null) {
    conditions.push(
      sql`${table.chipId} = (select c_f.id from chips c_f where c_f.slug = ${filter.chip})`,
    );
  }
  if (filter.company != null) {
    conditions.push(sql`exists (select 1 from demand_signal_companies dsc_f
      join companies co_f on co_f.id = dsc_f.company_id
      where dsc_f.signal_id = ${table.id} and co_f.slug = ${filter.company})`);
  }
  if (filter.observedFrom)
    conditions.push(sql`${table.observedOn} >= ${filter.observedFrom}::date`);
  if (filter.observedTo) conditions.push(sql`${table.observedOn} <= ${filter.observedTo}::date`);
  return conditions.length ? and(...conditions) : undefined;
}

/** An amount in the currency a source reported it in. */
export const MonetaryAmount = builder
  .objectRef<{ amount: string; currency: string }>('MonetaryAmount')
  .implement({
    description: 'An exact amount of money in a stated currency.',
    fields: (t) => ({
      amount: t.field({
        type: 'Decimal',
        description: 'The amount, exact.',
        resolve: (m) => m.amount,
      }),
      currency: t.exposeString('currency', { description: 'ISO 4217 currency code, e.g. `CNY`.' }),
    }),
  });

export const DemandSignal = builder.drizzleNode('demandSignals', {
  name: 'DemandSignal',
  // Load only the columns the selected fields declare (and the slug the global ID is made
  // of), not the whole row.
  select: { columns: { slug: true } },
  description:
    'Market evidence about AI-chip demand: an order, reported interest, a production ramp, ' +
    'revenue or a write-down. E.g. Chinese approval for ByteDance, Alibaba and Tencent to buy ' +
    'about 400,000 H200s (`ds-2026-01-28-h200-400k-approved`).',
  id: {
    column: (signal) => signal.slug,
    description: 'Global ID: base64 of `DemandSignal:<slug>`.',
  },
  fields: (t) => ({
    slug: t.exposeString('slug', {
      description: 'Stable human key, e.g. `ds-2026-01-28-h200-400k-approved`. Immutable.',
    }),
  }),
});

builder.drizzleObjectFields(DemandSignal, (t) => ({
  companies: t.field({
    type: [Company],
    description:
      'Companies the signal names (buyers and suppliers), in the order the source gives.',
    select: (_args, _ctx, nestedSelection) => ({
      with: {
        companyLinks: {
          orderBy: { position: 'asc', companyId: 'asc' },
          with: { company: nestedSelection() },
        },
      },
    }),
    resolve: (signal) =>
      (signal as unknown as { companyLinks: { company: object }[] }).companyLinks.map(
        (link) => link.company,
      ) as never,
  }),
  chip: t.relation('chip', {
    nullable: true,
    description: 'The chip the signal is about, if one.',
  }),
  kind: t.field({
    type: DemandSignalKind,
    description: 'What kind of evidence this is.',
    select: { columns: { kind: true } },
    resolve: (signal) => signal.kind,
  }),
  observedOn: t.field({
    type: 'Date',
    description: 'Date the signal was reported or observed.',
    select: { columns: { observedOn: true } },
    resolve: (signal) => signal.observedOn,
  }),
  quantityUnits: t.exposeInt('quantityUnits', {
    nullable: true,
    description: 'Number of chips involved, when reported.',
  }),
  valueUsd: t.field({
    type: 'Decimal',
    nullable: true,
    description: 'Value in US dollars, exact (e.g. `"16000000000"`), when reported.',
    select: { columns: { valueUsd: true } },
    resolve: (signal) => signal.valueUsd,
  }),
  valueOriginal: t.field({
    type: MonetaryAmount,
    nullable: true,
    description: 'The value as reported when the source gave another currency (e.g. CNY).',
    select: { columns: { valueOriginalAmount: true, valueOriginalCurrency: true } },
    resolve: (signal) =>
      signal.valueOriginalAmount && signal.valueOriginalCurrency
        ? { amount: signal.valueOriginalAmount, currency: signal.valueOriginalCurrency }
        : null,
  }),
  direction: t.field({
    type: SignalDirection,
    nullable: true,
    description: 'Whether the signal points to more or less demand.',
    select: { columns: { direction: true } },
    resolve: (signal) => signal.direction,
  }),
  strength: t.field({
    type: SignalStrength,
    nullable: true,
    description: 'How strong the evidence is.',
    select: { columns: { strength: true } },
    resolve: (signal) => signal.strength,
  }),
  reportedBy: t.exposeString('reportedBy', {
    nullable: true,
    description: 'Who reported it, e.g. `Reuters` or `Company filing (10-K)`.',
  }),
  summary: t.exposeString('summary', {
    nullable: true,
    description: 'What was reported (paraphrased).',
  }),
  sourceUrl: t.field({
    type: 'URL',
    nullable: true,
    description: 'Where the signal was confirmed.',
    select: { columns: { sourceUrl: true } },
    resolve: (signal) => signal.sourceUrl,
  }),
  confidence: t.field({
    type: FactConfidence,
    description: 'VERIFIED when confirmed in `sourceUrl`, RECALLED otherwise.',
    select: { columns: { confidence: true } },
    resolve: (signal) => signal.confidence,
  }),
  eventCursor: t.string({
    description:
      'Opaque position of this signal in the event stream, which is in commit order: the ' +
      'resume point a subscription takes as `after` (see `Subscription`).',
    select: { columns: { eventSeq: true } },
    resolve: (signal) => encodeEventCursor(signal.eventSeq),
  }),
}));

/** The connection type shared by every list of demand signals. */
export const DemandSignalConnection = nodeConnection(
  DemandSignal,
  'DemandSignal',
  'demand signals',
);

const ORDER_DIRECTION = { OBSERVED_ON_ASC: 'asc', OBSERVED_ON_DESC: 'desc' } as const;

builder.queryFields((t) => ({
  demandSignal: t.drizzleField({
    type: 'demandSignals',
    nullable: true,
    description: 'A demand signal by slug; null when there is none.',
    args: { slug: t.arg.string({ required: true, description: 'The signal slug.' }) },
    resolve: (query, _root, args, ctx) =>
      ctx.db.query.demandSignals.findFirst(query({ where: { slug: args.slug } })),
  }),
  demandSignals: t.drizzleConnection(
    {
      type: 'demandSignals',
      description: 'Demand signals, newest first by default (ties by slug).',
      complexity: connectionComplexity(['date', 'slug']),
      args: {
        filter: t.arg({ type: DemandSignalFilter, description: 'Narrows the list.' }),
        orderBy: t.arg({
          type: DemandSignalOrder,
          defaultValue: 'OBSERVED_ON_DESC',
          description: 'Sort order; ties are broken by slug in the same direction.',
        }),
      },
      totalCount: (_parent, args, ctx) =>
        ctx.db.$count(demandSignals, demandSignalFilterSql(demandSignals, args.filter)),
      resolve: (query, _parent, args, ctx) => {
        const direction = ORDER_DIRECTION[args.orderBy ?? 'OBSERVED_ON_DESC'];
        return ctx.db.query.demandSignals.findMany(
          query({
            where: { RAW: (table) => demandSignalFilterSql(table, args.filter) ?? sql`true` },
            orderBy: { observedOn: direction, slug: direction },
          }),
        );
      },
    },
    DemandSignalConnection,
  ),
}));

builder.subscriptionField('demandSignalRecorded', (t) =>
  t.drizzleField({
    type: 'demandSignals',
    description:
      'Every new demand signal that matches `filter`, as it commits: through the API, a batch ' +
      'job or plain SQL, on any gateway instance. Events arrive in commit order, each once.',
    args: {
      filter: t.arg({
        type: DemandSignalFilter,
        description: 'Only events that match (server-side).',
      }),
      after: t.arg.string({
        description: AFTER_EVENT_CURSOR,
      }),
    },
    subscribe: async (_root, args, ctx) =>
      ctx.events.subscribe(
        matchesDemandSignalEvent(args.filter),
        await checkedAfter(ctx, args.after),
      ),
    resolve: (query, item, _args, ctx) =>
      ctx.db.query.demandSignals.findFirst(
        query({ where: { id: eventOf(item as SubscriberItem).id } }),
      ) as never,
  }),
);

export const RecordDemandSignalInput = builder.inputType('RecordDemandSignalInput', {
  description: 'A new demand signal. `companies` and `chip` are slugs.',
  fields: (t) => ({
    slug: t.string({
      required: true,
      description:
        'Unique, immutable key: lower-case letters and digits joined by single hyphens, at most ' +
        '100 characters, e.g. `ds-2026-03-02-h20-order`.',
    }),
    companies: t.stringList({
      required: true,
      description: 'Slugs of the companies it names (at least one, each once), in source order.',
    }),
    chip: t.string({ description: 'Slug of the chip it is about, if any.' }),
    kind: t.field({
      type: DemandSignalKind,
      required: true,
      description: 'What kind of evidence.',
    }),
    observedOn: t.field({ type: 'Date', required: true, description: 'Date of the evidence.' }),
    quantityUnits: t.int({ description: 'Units involved (not negative), when reported.' }),
    valueUsd: t.field({
      type: 'Decimal',
      description: 'Value in U.S. dollars, exact, not negative.',
    }),
    direction: t.field({ type: SignalDirection, description: 'More or less demand.' }),
    strength: t.field({ type: SignalStrength, description: 'How strong the evidence is.' }),
    reportedBy: t.string({ description: 'Who reported it, e.g. `Reuters`.' }),
    summary: t.string({ description: 'What happened, in a sentence or two.' }),
    sourceUrl: t.field({ type: 'URL', description: 'Where it can be confirmed.' }),
    confidence: t.field({
      type: FactConfidence,
      description: 'VERIFIED when confirmed in `sourceUrl`; default RECALLED.',
    }),
    idempotencyKey: t.string({
      description:
        'Any string up to 200 characters that identifies this request. A retry with the same ' +
        'key within 24 hours returns the first result instead of recording again; the same ' +
        'key with a different input is a ConflictError.',
    }),
  }),
});

const RecordDemandSignalSuccess = builder
  .objectRef<{ demandSignal: DemandSignalRow; replayed: boolean }>('RecordDemandSignalSuccess')
  .implement({
    description: 'The signal was recorded (or, for a retried idempotency key, had been).',
    fields: (t) => ({
      demandSignal: t.field({
        type: DemandSignal,
        description: 'The recorded signal.',
        resolve: (result) => result.demandSignal as never,
      }),
      replayed: t.exposeBoolean('replayed', {
        description:
          'True when this is the stored result of an earlier request with the same idempotencyKey.',
      }),
    }),
  });

builder.mutationField('recordDemandSignal', (t) =>
  t.field({
    type: mutationResult(
      'RecordDemandSignalResult',
      RecordDemandSignalSuccess,
      'The recorded signal, or why nothing was recorded.',
    ),
    description:
      'Records a demand signal naming companies and optionally a chip. Needs the `write` ' +
      'scope. ValidationError for bad fields or unknown references, ConflictError for a taken ' +
      'slug or a reused idempotency key.',
    args: {
      input: t.arg({
        type: RecordDemandSignalInput,
        required: true,
        description: 'The signal to record.',
      }),
    },
    resolve: (_root, { input }, ctx) =>
      recordDemandSignal(ctx.db, input, ctx.viewer.kind === 'apiKey' ? ctx.viewer.id : undefined),
  }),
);
