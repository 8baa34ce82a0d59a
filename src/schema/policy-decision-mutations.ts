/**
 * The policy-decision mutations: `createPolicyDecision` and `updatePolicyDecisionStatus`, with
 * their inputs (`CreatePolicyDecisionInput`, `AffectedChipInput`,
 * `UpdatePolicyDecisionStatusInput`), success payloads and result unions. The types they
 * return (`PolicyDecision`, `PolicyDecisionUpdate`) live in `policy-decision.ts`.
 * Source: writes to the curated store through `db/writes/policy-decisions.ts`.
 */
import { builder, type PothosTypes } from '../builder.js';
import { TEXT_LIMITS } from '../db/limits.js';
import {
  createPolicyDecision,
  type PolicyDecisionRow,
  type PolicyDecisionUpdateRow,
  STATUS_TRANSITIONS,
  updatePolicyDecisionStatus,
} from '../db/writes/policy-decisions.js';
import { describedLimit } from '../input-limits.js';
import { entity } from '../plan/metadata.js';
import { FactConfidence, PolicyEffect, PolicyKind, PolicyStatus } from './enums.js';
import { PolicyDecision, PolicyDecisionUpdate } from './policy-decision.js';
import { mutationResult } from './results.js';

export const AffectedChipInput = builder.inputType('AffectedChipInput', {
  description: 'A chip a new decision names, with what the decision does to it.',
  fields: (t) => ({
    chip: t.string({ required: true, description: 'The chip slug, e.g. `h200`.' }),
    effect: t.field({
      type: PolicyEffect,
      required: true,
      description: 'What the decision does to this chip for its destinations.',
    }),
  }),
});

export const CreatePolicyDecisionInput = builder.inputType('CreatePolicyDecisionInput', {
  description: 'A new policy decision. Referenced chips, companies and `supersedes` are slugs.',
  fields: (t) => ({
    slug: t.string({
      required: true,
      description:
        'Unique, immutable key: lower-case letters and digits joined by single hyphens, at most ' +
        `${TEXT_LIMITS.slug} characters, e.g. \`us-bis-2026-03-01-h20-license\`.`,
    }),
    title: t.string({
      required: true,
      description: describedLimit('shortText', 'Title of the decision or rule.'),
    }),
    summary: t.string({
      description: describedLimit('longText', 'What it does, in a sentence or two.'),
    }),
    jurisdiction: t.field({
      type: 'CountryCode',
      required: true,
      description: 'The government that decided, e.g. `US`.',
    }),
    destinations: t.field({
      type: ['CountryCode'],
      required: true,
      description: 'Where it applies (at least one country), e.g. `["CN"]`.',
    }),
    authority: t.string({
      required: true,
      description: describedLimit('shortText', 'The body that decided, e.g. `BIS`, `MOFCOM`.'),
    }),
    kind: t.field({ type: PolicyKind, required: true, description: 'The legal instrument.' }),
    status: t.field({
      type: PolicyStatus,
      required: true,
      description: 'Its status when recorded; the first history entry, dated `announcedOn`.',
    }),
    announcedOn: t.field({ type: 'Date', required: true, description: 'Announcement date.' }),
    effectiveOn: t.field({
      type: 'Date',
      description: 'Date it takes legal effect; not before `announcedOn`.',
    }),
    chips: t.field({
      type: [AffectedChipInput],
      description: 'Chips it names, each once, with the effect on each.',
    }),
    companies: t.stringList({ description: 'Slugs of the companies it affects, each once.' }),
    supersedes: t.string({
      description:
        'Slug of the decision this one replaces. That decision moves to SUPERSEDED, dated this ' +
        "one's `announcedOn`, in the same transaction (unless it is SUPERSEDED or RESCINDED).",
    }),
    sourceUrl: t.field({ type: 'URL', description: 'Where the decision can be confirmed.' }),
    confidence: t.field({
      type: FactConfidence,
      description: 'VERIFIED when confirmed in `sourceUrl`; default RECALLED.',
    }),
    federalRegisterDocumentNumber: t.string({
      description: describedLimit(
        'shortText',
        'Federal Register document number, e.g. `2022-21658`.',
      ),
    }),
    idempotencyKey: t.string({
      description:
        `Any string up to ${TEXT_LIMITS.idempotencyKey} characters that identifies this request. ` +
        'A retry with the same ' +
        'key within 24 hours returns the first result instead of creating again; the same key ' +
        'with a different input is a ConflictError.',
    }),
  }),
});

/** The status transition table in words, for the schema's descriptions. */
const TRANSITION_TEXT = `${Object.entries(STATUS_TRANSITIONS)
  .filter(([, to]) => to.length > 0)
  .map(([from, to]) => `${from} → ${to.join(', ')}`)
  .join('; ')}. ${Object.entries(STATUS_TRANSITIONS)
  .filter(([, to]) => to.length === 0)
  .map(([from]) => from)
  .join(', ')} are final.`;

export const UpdatePolicyDecisionStatusInput = builder.inputType(
  'UpdatePolicyDecisionStatusInput',
  {
    description: "A change of a decision's status, recorded in its history.",
    fields: (t) => ({
      slug: t.string({ required: true, description: 'The decision slug.' }),
      status: t.field({
        type: PolicyStatus,
        required: true,
        description: `The new status. Allowed changes (others are a ValidationError): ${TRANSITION_TEXT}`,
      }),
      note: t.string({
        description: describedLimit('longText', 'Why the status changed (kept in the history).'),
      }),
      occurredAt: t.field({
        type: 'DateTime',
        description:
          "When the change happened; default now. Not before the decision's latest status " +
          'change, not in the future.',
      }),
    }),
  },
);

/** The field builder of an object type whose values are `Result`. */
type FieldsOf<Result> = PothosSchemaTypes.ObjectFieldBuilder<
  PothosSchemaTypes.ExtendDefaultTypes<PothosTypes>,
  Result
>;

/** A success's `decision` field (`{ decision }`), planned as that decision's entity. */
function decisionField<Result extends { decision: PolicyDecisionRow }>(
  t: FieldsOf<Result>,
  description: string,
) {
  return t.field({
    type: PolicyDecision,
    description,
    extensions: entity(
      'policyDecisions',
      (result: { decision: PolicyDecisionRow }) => result.decision.id,
    ),
    resolve: (result) => result.decision,
  });
}

const CreatePolicyDecisionSuccess = builder
  .objectRef<{ decision: PolicyDecisionRow; replayed: boolean }>('CreatePolicyDecisionSuccess')
  .implement({
    description: 'The decision was created (or, for a retried idempotency key, had been).',
    fields: (t) => ({
      decision: decisionField(t, 'The new decision.'),
      replayed: t.exposeBoolean('replayed', {
        description:
          'True when this is the stored result of an earlier request with the same idempotencyKey.',
      }),
    }),
  });

const UpdatePolicyDecisionStatusSuccess = builder
  .objectRef<{ decision: PolicyDecisionRow; update: PolicyDecisionUpdateRow }>(
    'UpdatePolicyDecisionStatusSuccess',
  )
  .implement({
    description: 'The status changed and the change is in the history.',
    fields: (t) => ({
      decision: decisionField(t, 'The decision, with its new status.'),
      update: t.field({
        type: PolicyDecisionUpdate,
        description: 'The history entry recorded for this change.',
        extensions: entity(
          'policyDecisionUpdates',
          (result: { update: PolicyDecisionUpdateRow }) => result.update.id,
        ),
        resolve: (result) => result.update,
      }),
    }),
  });

const CreatePolicyDecisionResult = mutationResult(
  'CreatePolicyDecisionResult',
  CreatePolicyDecisionSuccess,
  'The created decision, or why nothing was created.',
);
const UpdatePolicyDecisionStatusResult = mutationResult(
  'UpdatePolicyDecisionStatusResult',
  UpdatePolicyDecisionStatusSuccess,
  'The changed decision and its new history entry, or why nothing changed.',
);

builder.mutationFields((t) => ({
  createPolicyDecision: t.field({
    type: CreatePolicyDecisionResult,
    description:
      'Records a new policy decision with the chips and companies it names. Needs the `write` ' +
      'scope. ValidationError for bad fields or unknown references, ConflictError for a taken ' +
      'slug or a reused idempotency key.',
    args: {
      input: t.arg({
        type: CreatePolicyDecisionInput,
        required: true,
        description: 'The decision to create.',
      }),
    },
    resolve: (_root, { input }, ctx) =>
      createPolicyDecision(ctx.db, input, ctx.viewer.kind === 'apiKey' ? ctx.viewer.id : undefined),
  }),
  updatePolicyDecisionStatus: t.field({
    type: UpdatePolicyDecisionStatusResult,
    description:
      "Changes a decision's status, recording `note` and `occurredAt` in its history. Needs " +
      'the `write` scope. NotFoundError for an unknown slug; ValidationError for the same ' +
      'status, a transition that is not allowed, or a back-dated change.',
    args: {
      input: t.arg({
        type: UpdatePolicyDecisionStatusInput,
        required: true,
        description: 'Which decision, its new status, and when and why it changed.',
      }),
    },
    resolve: (_root, { input }, ctx) => updatePolicyDecisionStatus(ctx.db, input),
  }),
}));
