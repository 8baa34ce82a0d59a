/**
 * `Chip.exportStatus` and its `ExportStatus`: whether a chip may move from one country to
 * another on a date, derived from the decisions in force then (the rule is in
 * `src/db/export-status.ts`). Source: the curated store.
 */
import { builder } from '../builder.js';
import { type ExportStatusRow, exportStatuses } from '../db/export-status.js';
import { exportStatusPart, special } from '../plan/metadata.js';
import { Chip } from './chip.js';
import { PolicyEffect } from './enums.js';
import { PolicyDecision } from './policy-decision.js';

/** Today's date in UTC as `YYYY-MM-DD`, the default `asOf` of `exportStatus`. */
export const todayUtc = () => new Date().toISOString().slice(0, 10);

interface ExportStatusShape extends ExportStatusRow {
  chipId: number;
  /** The chip's slug, the key of its global ID. */
  chipSlug: string;
  from: string;
  to: string;
  asOf: string;
}

export const ExportStatus = builder.objectRef<ExportStatusShape>('ExportStatus');

builder.drizzleObjectField(Chip, 'exportStatus', (t) =>
  t.field({
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
    extensions: special('exportStatus'),
    select: { columns: { id: true } },
    resolve: async (chip, args, ctx) => {
      const key = {
        chipId: chip.id,
        from: args.from,
        to: args.to,
        asOf: args.asOf ?? todayUtc(),
      };
      const row = await ctx.loaders.load(exportStatuses, key);
      return { ...key, chipSlug: chip.slug, ...row };
    },
  }),
);

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
      extensions: exportStatusPart('chip'),
      // The id and slug (its global ID); Pothos loads the other selected columns by id.
      resolve: (status) => ({ id: status.chipId, slug: status.chipSlug }),
    }),
    from: t.expose('from', {
      type: 'CountryCode',
      description: 'Exporting country.',
      extensions: exportStatusPart('from'),
    }),
    to: t.expose('to', {
      type: 'CountryCode',
      description: 'Importing country.',
      extensions: exportStatusPart('to'),
    }),
    asOf: t.expose('asOf', {
      type: 'Date',
      description: 'The date the status holds for.',
      extensions: exportStatusPart('asOf'),
    }),
    exportEffect: t.expose('exportEffect', {
      type: PolicyEffect,
      nullable: true,
      description:
        "Effect of the exporting country's decision in force; null when none is recorded.",
      extensions: exportStatusPart('exportEffect'),
    }),
    exportDecision: t.field({
      type: PolicyDecision,
      nullable: true,
      description: 'The exporting-side decision that sets `exportEffect`.',
      extensions: exportStatusPart('exportDecision'),
      resolve: (s) =>
        s.exportDecisionId == null || s.exportDecisionSlug == null
          ? null
          : { id: s.exportDecisionId, slug: s.exportDecisionSlug },
    }),
    importEffect: t.expose('importEffect', {
      type: PolicyEffect,
      nullable: true,
      description:
        "Effect of the importing country's decision in force; null when none is recorded.",
      extensions: exportStatusPart('importEffect'),
    }),
    importDecision: t.field({
      type: PolicyDecision,
      nullable: true,
      description: 'The importing-side decision that sets `importEffect`.',
      extensions: exportStatusPart('importDecision'),
      resolve: (s) =>
        s.importDecisionId == null || s.importDecisionSlug == null
          ? null
          : { id: s.importDecisionId, slug: s.importDecisionSlug },
    }),
  }),
});
