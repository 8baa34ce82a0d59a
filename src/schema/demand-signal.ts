/**
 * `DemandSignal`: market evidence around AI chips (orders, interest, production ramps,
 * reported revenue, write-downs), naming the companies involved and usually a chip. Attaches
 * `Company.demandSignals` and `Chip.demandSignals`.
 * Source: the curated store (`demand_signals`, `demand_signal_companies`).
 */

import { builder, nodeConnection } from '../builder.js';
import { encodeEventCursor } from '../codecs.js';
import { subscriptionComplexity, textComplexity } from '../cost.js';
import { TEXT_LIMITS } from '../db/limits.js';
import { lists } from '../db/lists.js';
import { type DemandSignalRow, recordDemandSignal } from '../db/writes/demand-signals.js';
import { describedLimit, limitedTo, textLimit } from '../input-limits.js';
import { computed, entity, lookup, orderedRelation } from '../plan/metadata.js';
import type { SubscriberItem } from '../pubsub/subscriber.js';
import { eventOf, matchesDemandSignalEvent } from '../pubsub/topics.js';
import { Chip } from './chip.js';
import { Company } from './company.js';
import { relatedList, rootList } from './connections.js';
import {
  DemandSignalKind,
  DemandSignalOrder,
  FactConfidence,
  SignalDirection,
  SignalStrength,
} from './enums.js';
import { DemandSignalFilter } from './filters.js';
import { AFTER_EVENT_CURSOR, checkedAfter } from './node.js';
import { mutationResult } from './results.js';

/** An amount in the currency a source reported it in. */
export const MonetaryAmount = builder
  .objectRef<{ amount: string; currency: string }>('MonetaryAmount')
  .implement({
    description: 'An exact amount of money in a stated currency.',
    fields: (t) => ({
      amount: t.expose('amount', {
        type: 'Decimal',
        description: 'The amount, exact.',
      }),
      currency: t.exposeString('currency', {
        description: 'ISO 4217 currency code, e.g. `CNY`.',
      }),
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
      complexity: textComplexity('slug'),
      description: 'Stable human key, e.g. `ds-2026-01-28-h200-400k-approved`. Immutable.',
    }),
  }),
});

builder.drizzleObjectFields(DemandSignal, (t) => ({
  companies: t.field({
    type: [Company],
    description:
      'Companies the signal names (buyers and suppliers), in the order the source gives.',
    ...orderedRelation(
      'companies',
      [
        { column: 'position', direction: 'asc' },
        { column: 'companyId', direction: 'asc' },
      ],
      { through: { links: 'companyLinks', node: 'company' } },
    ),
  }),
  chip: t.relation('chip', {
    nullable: true,
    description: 'The chip the signal is about, if one.',
  }),
  kind: t.expose('kind', {
    type: DemandSignalKind,
    description: 'What kind of evidence this is.',
  }),
  observedOn: t.expose('observedOn', {
    type: 'Date',
    description: 'Date the signal was reported or observed.',
  }),
  quantityUnits: t.exposeInt('quantityUnits', {
    nullable: true,
    description: 'Number of chips involved, when reported.',
  }),
  valueUsd: t.expose('valueUsd', {
    type: 'Decimal',
    nullable: true,
    description: 'Value in US dollars, exact (e.g. `"16000000000"`), when reported.',
  }),
  valueOriginal: t.field({
    type: MonetaryAmount,
    nullable: true,
    description: 'The value as reported when the source gave another currency (e.g. CNY).',
    ...computed(
      ['valueOriginalAmount', 'valueOriginalCurrency'],
      (signal: { valueOriginalAmount: string | null; valueOriginalCurrency: string | null }) =>
        signal.valueOriginalAmount && signal.valueOriginalCurrency
          ? { amount: signal.valueOriginalAmount, currency: signal.valueOriginalCurrency }
          : null,
    ),
  }),
  direction: t.expose('direction', {
    type: SignalDirection,
    nullable: true,
    description: 'Whether the signal points to more or less demand.',
  }),
  strength: t.expose('strength', {
    type: SignalStrength,
    nullable: true,
    description: 'How strong the evidence is.',
  }),
  reportedBy: t.exposeString('reportedBy', {
    complexity: textComplexity('shortText'),
    nullable: true,
    description: 'Who reported it, e.g. `Reuters` or `Company filing (10-K)`.',
  }),
  summary: t.exposeString('summary', {
    nullable: true,
    description: 'What was reported (paraphrased).',
    complexity: textComplexity('longText'),
  }),
  sourceUrl: t.expose('sourceUrl', {
    complexity: textComplexity('url'),
    type: 'URL',
    nullable: true,
    description: 'Where the signal was confirmed.',
  }),
  confidence: t.expose('confidence', {
    type: FactConfidence,
    description: 'VERIFIED when confirmed in `sourceUrl`, RECALLED otherwise.',
  }),
  eventCursor: t.string({
    description:
      'Opaque position of this signal in the event stream, which is in commit order: the ' +
      'resume point a subscription takes as `after` (see `Subscription`).',
    ...computed(['eventSeq'], (signal: { eventSeq: number }) => encodeEventCursor(signal.eventSeq)),
  }),
}));

/** The connection type shared by every list of demand signals. */
export const DemandSignalConnection = nodeConnection(
  DemandSignal,
  'DemandSignal',
  'demand signals',
);

builder.drizzleObjectField(Company, 'demandSignals', (t) =>
  t.connection(
    {
      type: DemandSignal,
      description: 'Demand signals naming this company, newest first (ties by slug).',
      args: { filter: t.arg({ type: DemandSignalFilter, description: 'Narrows the signals.' }) },
      ...relatedList<typeof DemandSignal.$inferType>(lists.companyDemandSignals),
    },
    DemandSignalConnection,
  ),
);

builder.drizzleObjectField(Chip, 'demandSignals', (t) =>
  t.connection(
    {
      type: DemandSignal,
      description: 'Demand signals about this chip, newest first (ties by slug).',
      args: { filter: t.arg({ type: DemandSignalFilter, description: 'Narrows the signals.' }) },
      ...relatedList<typeof DemandSignal.$inferType>(lists.chipDemandSignals),
    },
    DemandSignalConnection,
  ),
);

builder.queryFields((t) => ({
  demandSignal: t.drizzleField({
    type: 'demandSignals',
    nullable: true,
    description: 'A demand signal by slug; null when there is none.',
    args: { slug: t.arg.string({ required: true, ...textLimit('slug', 'The signal slug.') }) },
    extensions: lookup('demandSignals', 'slug', 'slug'),
    resolve: (query, _root, args, ctx) =>
      ctx.db.query.demandSignals.findFirst(query({ where: { slug: args.slug } })),
  }),
  demandSignals: t.connection(
    {
      type: DemandSignal,
      description: 'Demand signals, newest first by default (ties by slug).',
      args: {
        filter: t.arg({ type: DemandSignalFilter, description: 'Narrows the list.' }),
        orderBy: t.arg({
          type: DemandSignalOrder,
          defaultValue: 'OBSERVED_ON_DESC',
          description: 'Sort order; ties are broken by slug in the same direction.',
        }),
      },
      ...rootList<typeof DemandSignal.$inferType>(lists.demandSignals, 'DemandSignal'),
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
        extensions: limitedTo('cursor'),
      }),
    },
    // Charged for the events it may replay before it is live (see `subscriptionComplexity`).
    complexity: subscriptionComplexity,
    extensions: entity('demandSignals', (item: SubscriberItem) => eventOf(item).id),
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
        `${TEXT_LIMITS.slug} characters, e.g. \`ds-2026-03-02-h20-order\`.`,
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
    reportedBy: t.string({
      description: describedLimit('shortText', 'Who reported it, e.g. `Reuters`.'),
    }),
    summary: t.string({
      description: describedLimit('longText', 'What happened, in a sentence or two.'),
    }),
    sourceUrl: t.field({ type: 'URL', description: 'Where it can be confirmed.' }),
    confidence: t.field({
      type: FactConfidence,
      description: 'VERIFIED when confirmed in `sourceUrl`; default RECALLED.',
    }),
    idempotencyKey: t.string({
      description:
        `Any string up to ${TEXT_LIMITS.idempotencyKey} characters that identifies this request. ` +
        'A retry with the same ' +
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
        extensions: entity(
          'demandSignals',
          (result: { demandSignal: DemandSignalRow }) => result.demandSignal.id,
        ),
        resolve: (result) => result.demandSignal,
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
