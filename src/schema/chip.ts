/**
 * `Chip`: AI accelerators with the specifications export rules are written against (BIS Total
 * Processing Performance, performance density), who designs and makes each, and the chips it
 * derives from. Attaches `Company.chipsDesigned`. The decisions and demand signals about a
 * chip, and its export status, are attached by their own modules.
 * Source: the curated store (`chips`).
 */

import { builder, nodeConnection } from '../builder.js';
import { textComplexity } from '../cost.js';
import { TEXT_LIMITS } from '../db/limits.js';
import { lists } from '../db/lists.js';
import { type ChipRow, upsertChip } from '../db/writes/reference.js';
import { describedLimit, textLimit } from '../input-limits.js';
import { entity, lookup } from '../plan/metadata.js';
import { Company } from './company.js';
import { relatedList, rootList } from './connections.js';
import { FactConfidence } from './enums.js';
import { ChipFilter } from './filters.js';
import { mutationResult } from './results.js';

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
    slug: t.exposeString('slug', {
      complexity: textComplexity('slug'),
      description: 'Stable human key, e.g. `h200`. Immutable.',
    }),
    name: t.exposeString('name', {
      complexity: textComplexity('shortText'),
      description: 'Product name, e.g. `NVIDIA H200`.',
    }),
  }),
});

builder.drizzleObjectFields(Chip, (t) => ({
  designer: t.relation('designer', {
    description: 'The company that designs the chip.',
  }),
  foundry: t.relation('foundry', {
    nullable: true,
    description: 'The company that manufactures it, when known.',
  }),
  architecture: t.exposeString('architecture', {
    complexity: textComplexity('shortText'),
    nullable: true,
    description: 'Microarchitecture and die, e.g. `Hopper (GH100)`.',
  }),
  launchYear: t.exposeInt('launchYear', {
    nullable: true,
    description: 'Year of launch.',
  }),
  announcedOn: t.expose('announcedOn', {
    type: 'Date',
    nullable: true,
    description: 'Date the chip was announced, when recorded.',
  }),
  processNode: t.exposeString('processNode', {
    complexity: textComplexity('shortText'),
    nullable: true,
    description: 'Manufacturing process, e.g. `TSMC 4N`.',
  }),
  memoryGb: t.exposeFloat('memoryGb', {
    nullable: true,
    description: 'Memory capacity in GB.',
  }),
  memoryType: t.exposeString('memoryType', {
    complexity: textComplexity('shortText'),
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
  dieAreaMm2: t.exposeFloat('dieAreaMm2', {
    nullable: true,
    description: 'Die area in mm².',
  }),
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
    complexity: textComplexity('longText'),
  }),
  sourceUrl: t.expose('sourceUrl', {
    complexity: textComplexity('url'),
    type: 'URL',
    nullable: true,
    description: 'Where the specifications were checked.',
  }),
  confidence: t.expose('confidence', {
    type: FactConfidence,
    description: 'VERIFIED when confirmed in `sourceUrl`, RECALLED otherwise.',
  }),
}));

/** The connection type shared by every list of chips. */
export const ChipConnection = nodeConnection(Chip, 'Chip', 'chips');

builder.drizzleObjectField(Company, 'chipsDesigned', (t) =>
  t.connection(
    {
      type: Chip,
      description: 'Chips this company designs, by name, then slug.',
      ...relatedList<typeof Chip.$inferType>(lists.companyChipsDesigned),
    },
    ChipConnection,
  ),
);

builder.queryFields((t) => ({
  chip: t.drizzleField({
    type: 'chips',
    nullable: true,
    description: 'A chip by slug, e.g. `h200`; null when there is none.',
    args: { slug: t.arg.string({ required: true, ...textLimit('slug', 'The chip slug.') }) },
    extensions: lookup('chips', 'slug', 'slug'),
    resolve: (query, _root, args, ctx) =>
      ctx.db.query.chips.findFirst(query({ where: { slug: args.slug } })),
  }),
  chips: t.connection(
    {
      type: Chip,
      description: 'All chips, by name, then slug (byte order).',
      args: { filter: t.arg({ type: ChipFilter, description: 'Narrows the list.' }) },
      ...rootList<typeof Chip.$inferType>(lists.chips, 'Chip'),
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
        `The key: lower-case letters and digits joined by single hyphens, at most ${TEXT_LIMITS.slug} ` +
        'characters, e.g. `h200`. A new slug creates the chip.',
    }),
    name: t.string({
      required: true,
      description: describedLimit('shortText', 'Product name, e.g. `NVIDIA H200`.'),
    }),
    designer: t.string({ required: true, description: 'Slug of the designing company.' }),
    foundry: t.string({ description: 'Slug of the manufacturing company.' }),
    derivedFrom: t.string({ description: 'Slug of the chip this one was derived from.' }),
    architecture: t.string({
      description: describedLimit('shortText', 'Microarchitecture and die, e.g. `Hopper (GH100)`.'),
    }),
    launchYear: t.int({ description: 'Year of launch, 1950 to 2100.' }),
    announcedOn: t.field({ type: 'Date', description: 'Date the chip was announced.' }),
    processNode: t.string({
      description: describedLimit('shortText', 'Manufacturing process, e.g. `TSMC 4N`.'),
    }),
    memoryGb: t.float({ description: 'Memory capacity in GB.' }),
    memoryType: t.string({
      description: describedLimit('shortText', 'Memory type, e.g. `HBM3e`.'),
    }),
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
    exportControlNote: t.string({
      description: describedLimit('longText', 'Free-text export-control history.'),
    }),
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
        extensions: entity('chips', (result: { chip: ChipRow }) => result.chip.id),
        resolve: (result) => result.chip,
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
