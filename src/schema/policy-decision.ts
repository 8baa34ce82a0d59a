/**
 * `PolicyDecision` and its status history (`PolicyDecisionUpdate`): what governments decided
 * about AI chips, which chips and companies each decision names, and how its status changed.
 * Attaches `Company.policyDecisions` and `Chip.policyDecisions` (whose edges carry the
 * decision's effect on the chip). The mutations that write decisions live in
 * `policy-decision-mutations.ts`.
 * Source: the curated store (`policy_decisions`, `policy_decision_chips`,
 * `policy_decision_companies`, `policy_decision_updates`).
 */

import { builder, nodeConnection } from '../builder.js';
import { encodeEventCursor } from '../codecs.js';
import { subscriptionComplexity, textComplexity } from '../cost.js';
import { PLAIN_LIST_MAX } from '../db/limits.js';
import { lists } from '../db/lists.js';
import type { PolicyEffect as PolicyEffectValue } from '../db/schema.js';
import { limitedTo, textLimit } from '../input-limits.js';
import { column, computed, entity, lookup, orderedRelation, pagePart } from '../plan/metadata.js';
import type { SubscriberItem } from '../pubsub/subscriber.js';
import { eventOf, matchesPolicyDecisionEvent } from '../pubsub/topics.js';
import { Chip } from './chip.js';
import { Company } from './company.js';
import { relatedList, rootList } from './connections.js';
import {
  FactConfidence,
  PolicyDecisionOrder,
  PolicyEffect,
  PolicyKind,
  PolicyStatus,
} from './enums.js';
import { PolicyDecisionFilter } from './filters.js';
import { AFTER_EVENT_CURSOR, checkedAfter } from './node.js';

export const AffectedChip = builder.drizzleObject('policyDecisionChips', {
  name: 'AffectedChip',
  description: 'A chip a decision names, with what the decision does to it.',
  fields: (t) => ({
    chip: t.relation('chip', { description: 'The chip.' }),
    effect: t.expose('effect', {
      type: PolicyEffect,
      description: 'What the decision does to this chip for the destinations it covers.',
    }),
  }),
});

export const PolicyDecision = builder.drizzleNode('policyDecisions', {
  name: 'PolicyDecision',
  // Load only the columns the selected fields declare (and the slug the global ID is made
  // of), not the whole row.
  select: { columns: { slug: true } },
  description:
    'A government decision about AI chips: an export rule, a license decision, import ' +
    'guidance, a ban, an investigation or a tariff. E.g. the U.S. approving H200 sales to ' +
    'China with a 25 % revenue share (`us-whitehouse-2025-12-08-h200-approval`).',
  id: {
    column: (decision) => decision.slug,
    description: 'Global ID: base64 of `PolicyDecision:<slug>`.',
  },
  fields: (t) => ({
    slug: t.exposeString('slug', {
      complexity: textComplexity('slug'),
      description: 'Stable human key, e.g. `us-whitehouse-2025-12-08-h200-approval`. Immutable.',
    }),
    title: t.exposeString('title', {
      complexity: textComplexity('shortText'),
      description: 'Title of the decision or rule.',
    }),
    summary: t.exposeString('summary', {
      nullable: true,
      description: 'What it does, in a sentence or two (paraphrased, not quoted).',
      complexity: textComplexity('longText'),
    }),
    jurisdiction: t.expose('jurisdiction', {
      type: 'CountryCode',
      description: 'The government that decided (ISO 3166-1 alpha-2), e.g. `US`, `CN`.',
    }),
    destinations: t.expose('destinations', {
      type: ['CountryCode'],
      description:
        'Destination countries the decision applies to, as tracked here (ISO 3166-1 alpha-2). ' +
        'U.S. rules also reach destinations this list may not record (e.g. Macau, Country Group D:5).',
    }),
    authority: t.exposeString('authority', {
      complexity: textComplexity('shortText'),
      description:
        'The body that decided: `BIS`, `White House`, `CAC`, `MOFCOM`, `SAMR`, `Customs (GACC)`, ...',
    }),
    kind: t.expose('kind', {
      type: PolicyKind,
      description: 'The legal instrument.',
    }),
    status: t.expose('status', {
      type: PolicyStatus,
      description: 'Current status; `updates` has the history.',
    }),
    announcedOn: t.expose('announcedOn', {
      type: 'Date',
      description: 'Date the decision was announced or signed.',
    }),
    effectiveOn: t.expose('effectiveOn', {
      type: 'Date',
      nullable: true,
      description: 'Date it takes legal effect, when known and different from none.',
    }),
    publishedOn: t.expose('publishedOn', {
      type: 'Date',
      nullable: true,
      description: 'Date of publication in the Federal Register, for U.S. rules.',
    }),
    revenueSharePercent: t.exposeFloat('revenueSharePercent', {
      nullable: true,
      description:
        'Share of sales revenue the exporter pays the U.S. government as a license condition, ' +
        'in percent (e.g. `25` for the H200 approval).',
    }),
    tariffPercent: t.exposeFloat('tariffPercent', {
      nullable: true,
      description: 'Tariff rate in percent, for tariff decisions.',
    }),
    federalRegisterDocumentNumber: t.exposeString('federalRegisterDocumentNumber', {
      complexity: textComplexity('shortText'),
      nullable: true,
      description: 'Federal Register document number, e.g. `2022-21658` (U.S. rules only).',
    }),
    federalRegisterCitation: t.exposeString('federalRegisterCitation', {
      nullable: true,
      description: 'Federal Register citation, e.g. `87 FR 62186`.',
    }),
    regulationIdentifierNumber: t.exposeString('regulationIdentifierNumber', {
      nullable: true,
      description: 'Regulation Identifier Number (RIN), e.g. `0694-AI94`.',
    }),
    presidentialDocumentNumber: t.exposeString('presidentialDocumentNumber', {
      nullable: true,
      description: 'Presidential document, e.g. `Proclamation 11002`.',
    }),
    sourceUrl: t.expose('sourceUrl', {
      complexity: textComplexity('url'),
      type: 'URL',
      nullable: true,
      description: 'Where the decision was confirmed.',
    }),
    confidence: t.expose('confidence', {
      type: FactConfidence,
      description: 'VERIFIED when confirmed in `sourceUrl`, RECALLED otherwise.',
    }),
  }),
});

builder.drizzleObjectFields(PolicyDecision, (t) => ({
  chips: t.relation('chipLinks', {
    type: AffectedChip,
    description: 'Chips the decision names, with the effect on each.',
    query: { orderBy: { chipId: 'asc' } },
  }),
  companies: t.relation('companies', {
    description: 'Companies the decision affects, by name.',
    query: { orderBy: { name: 'asc', slug: 'asc' } },
  }),
  supersedes: t.relation('supersedes', {
    nullable: true,
    description: 'The earlier decision this one replaces.',
  }),
}));

/** The connection type shared by every list of policy decisions. */
export const PolicyDecisionConnection = nodeConnection(
  PolicyDecision,
  'PolicyDecision',
  'policy decisions',
);

builder.drizzleObjectField(PolicyDecision, 'supersededBy', (t) =>
  t.field({
    type: PolicyDecision,
    nullable: true,
    description: 'The decision that replaced this one (the latest, if several did).',
    ...orderedRelation(
      'supersededBy',
      [
        { column: 'announcedOn', direction: 'desc' },
        { column: 'slug', direction: 'desc' },
      ],
      { first: true },
    ),
  }),
);

export const PolicyDecisionUpdate = builder.drizzleNode('policyDecisionUpdates', {
  name: 'PolicyDecisionUpdate',
  // Load only the columns the selected fields declare, not the whole row.
  select: {},
  description:
    "One entry of a decision's status history: a status change, or (with a null " +
    '`fromStatus`) the status it was first recorded with. Written by the database for every ' +
    'writer, so history is complete whoever changed the row.',
  id: {
    column: (update) => update.id,
    description: 'Global ID: base64 of `PolicyDecisionUpdate:<row id>`.',
  },
  fields: (t) => ({
    decision: t.relation('decision', {
      description: 'The decision whose status changed.',
    }),
    fromStatus: t.expose('fromStatus', {
      type: PolicyStatus,
      nullable: true,
      description: 'Status before the change; null for the first status.',
    }),
    toStatus: t.expose('toStatus', {
      type: PolicyStatus,
      description: 'Status after the change.',
    }),
    occurredAt: t.expose('occurredAt', {
      type: 'DateTime',
      description:
        'When the change happened (UTC). A change known only by its date is at 00:00:00Z of that date.',
    }),
    note: t.exposeString('note', {
      nullable: true,
      description: 'Why the status changed, if recorded.',
      complexity: textComplexity('longText'),
    }),
    eventCursor: t.string({
      description:
        'Opaque position of this update in the event stream, which is in commit order: the ' +
        'resume point a subscription takes as `after` (see `Subscription`).',
      ...computed(['eventSeq'], (update: { eventSeq: number }) =>
        encodeEventCursor(update.eventSeq),
      ),
    }),
  }),
});

builder.drizzleObjectField(Company, 'policyDecisions', (t) =>
  t.connection(
    {
      type: PolicyDecision,
      description:
        'Policy decisions naming this company, newest announcement first (ties by slug).',
      args: {
        filter: t.arg({ type: PolicyDecisionFilter, description: 'Narrows the decisions.' }),
      },
      ...relatedList<typeof PolicyDecision.$inferType>(lists.companyPolicyDecisions),
    },
    PolicyDecisionConnection,
  ),
);

builder.drizzleObjectField(Chip, 'policyDecisions', (t) =>
  t.connection(
    {
      type: PolicyDecision,
      description:
        'Decisions that name this chip, newest announcement first (ties by slug); each edge ' +
        'carries the effect on this chip.',
      args: {
        filter: t.arg({ type: PolicyDecisionFilter, description: 'Narrows the decisions.' }),
      },
      ...relatedList<typeof PolicyDecision.$inferType>(lists.chipPolicyDecisions),
    },
    {
      name: 'ChipPolicyDecisionConnection',
      description: 'Policy decisions naming a chip, each with its effect on the chip.',
      fields: (c) => ({
        totalCount: c.int({
          description: 'Number of matching decisions across all pages.',
          extensions: pagePart('totalCount'),
          resolve: (connection) => connection.totalCount(),
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
          extensions: column('effect'),
          resolve: (edge) => edge.effect as PolicyEffectValue,
        }),
      }),
    },
  ),
);

builder.queryFields((t) => ({
  policyDecision: t.drizzleField({
    type: 'policyDecisions',
    nullable: true,
    description:
      'A policy decision by slug, e.g. `us-whitehouse-2025-12-08-h200-approval`; null when there is none.',
    args: { slug: t.arg.string({ required: true, ...textLimit('slug', 'The decision slug.') }) },
    extensions: lookup('policyDecisions', 'slug', 'slug'),
    resolve: (query, _root, args, ctx) =>
      ctx.db.query.policyDecisions.findFirst(query({ where: { slug: args.slug } })),
  }),
  policyDecisions: t.connection(
    {
      type: PolicyDecision,
      description: 'Policy decisions, newest announcement first by default (ties by slug).',
      args: {
        filter: t.arg({ type: PolicyDecisionFilter, description: 'Narrows the list.' }),
        orderBy: t.arg({
          type: PolicyDecisionOrder,
          defaultValue: 'ANNOUNCED_ON_DESC',
          description: 'Sort order; ties are broken by slug in the same direction.',
        }),
      },
      ...rootList<typeof PolicyDecision.$inferType>(lists.policyDecisions, 'PolicyDecision'),
    },
    PolicyDecisionConnection,
  ),
}));

builder.subscriptionField('policyDecisionUpdated', (t) =>
  t.drizzleField({
    type: 'policyDecisionUpdates',
    description:
      'Every status change of a policy decision that matches `filter`, as it commits: through ' +
      'the API, a batch job or plain SQL, on any gateway instance. `filter.status` matches the ' +
      'status the decision changed to. Events arrive in commit order, each once.',
    args: {
      filter: t.arg({
        type: PolicyDecisionFilter,
        description: 'Only events that match (server-side).',
      }),
      after: t.arg.string({
        description: AFTER_EVENT_CURSOR,
        extensions: limitedTo('cursor'),
      }),
    },
    // Charged for the events it may replay before it is live (see `subscriptionComplexity`).
    complexity: subscriptionComplexity,
    extensions: entity('policyDecisionUpdates', (item: SubscriberItem) => eventOf(item).id),
    subscribe: async (_root, args, ctx) =>
      ctx.events.subscribe(
        matchesPolicyDecisionEvent(args.filter),
        await checkedAfter(ctx, args.after),
      ),
    resolve: (query, item, _args, ctx) =>
      ctx.db.query.policyDecisionUpdates.findFirst(
        query({ where: { id: eventOf(item as SubscriberItem).id } }),
      ) as never,
  }),
);

builder.drizzleObjectField(PolicyDecision, 'updates', (t) =>
  t.field({
    type: [PolicyDecisionUpdate],
    description:
      `Status history: its latest ${PLAIN_LIST_MAX} entries, oldest first (by \`occurredAt\`, ` +
      'then id). The first entry of a history that fits has a null `fromStatus`: the status ' +
      'the decision was recorded with.',
    ...orderedRelation(
      'updates',
      [
        { column: 'occurredAt', direction: 'asc' },
        { column: 'id', direction: 'asc' },
      ],
      { latest: PLAIN_LIST_MAX },
    ),
  }),
);
