/**
 * GraphQL enums. Values match the Postgres enum types one to one (see `src/db/schema.ts`);
 * the seed's kebab-case values map to them as `api.md` describes. Enums may gain values later:
 * clients should tolerate values they do not know.
 */
import { builder } from '../builder.js';

export const CompanyRole = builder.enumType('CompanyRole', {
  description: 'What a company does in the AI-chip supply chain. A company can have several roles.',
  values: {
    DESIGNER: { description: 'Designs AI accelerators (e.g. Nvidia, AMD, Huawei).' },
    FOUNDRY: { description: 'Manufactures chips for designers (e.g. TSMC, SMIC).' },
    MEMORY_SUPPLIER: { description: 'Supplies high-bandwidth memory (HBM) (e.g. SK hynix).' },
    BUYER: { description: 'Buys accelerators at scale, typically a hyperscaler or AI lab.' },
    DOMESTIC_ALTERNATIVE: {
      description: 'A Chinese supplier positioned as a domestic substitute for U.S. chips.',
    },
  } as const,
});

export const PolicyKind = builder.enumType('PolicyKind', {
  description: 'The legal instrument of a policy decision.',
  values: {
    EXPORT_RULE: {
      description:
        'A rule in the Export Administration Regulations (e.g. a BIS interim final rule).',
    },
    LICENSE: {
      description: 'A license requirement, licensing policy or license grant for specific exports.',
    },
    IMPORT_GUIDANCE: {
      description:
        "An importing government's guidance to buyers (e.g. window guidance to stop buying).",
    },
    BAN: { description: 'An outright prohibition on buying, importing or using a chip.' },
    INVESTIGATION: {
      description: 'A regulatory investigation (e.g. an antitrust or security review).',
    },
    TARIFF: { description: 'A tariff or levy on the trade.' },
  } as const,
});

export const PolicyStatus = builder.enumType('PolicyStatus', {
  description:
    'Where a decision stands. APPROVED and IN_EFFECT decisions are "in force" for `exportStatus`.',
  values: {
    PROPOSED: { description: 'Published for comment or announced as intended, not yet decided.' },
    UNDER_REVIEW: { description: 'Being deliberated or reviewed; no decision yet.' },
    APPROVED: { description: 'Decided and granted, though formal effect may still be pending.' },
    IN_EFFECT: { description: 'Legally in effect.' },
    SUPERSEDED: { description: 'Replaced by a later decision (see `supersededBy`).' },
    RESCINDED: { description: 'Withdrawn by the authority. Terminal.' },
    REJECTED: { description: 'Considered and refused.' },
    SUSPENDED: { description: 'Temporarily not applied.' },
  } as const,
});

export const PolicyEffect = builder.enumType('PolicyEffect', {
  description:
    'What a decision does to one chip for the destinations it covers (an editorial reading of ' +
    'the decision, not quoted from it).',
  values: {
    PERMITTED: { description: 'May be exported/imported without conditions.' },
    PERMITTED_WITH_CONDITIONS: {
      description:
        'Allowed subject to conditions (e.g. a license with a revenue share, vetted buyers).',
    },
    LICENSE_REQUIRED: {
      description: 'A license is required (often with a presumption of denial).',
    },
    RESTRICTED: { description: 'Limited: some buyers or uses are barred.' },
    DISCOURAGED: { description: 'Not barred, but buyers are told to avoid it.' },
    BANNED: { description: 'Prohibited.' },
    UNDER_REVIEW: { description: 'Its treatment is being decided.' },
  } as const,
});

export const DemandSignalKind = builder.enumType('DemandSignalKind', {
  description: 'What kind of market evidence a demand signal is.',
  values: {
    ORDER: { description: 'Orders placed or approved.' },
    INTEREST: { description: 'Reported interest or planned purchases, not yet orders.' },
    PRODUCTION_RAMP: { description: 'A supplier raising (or pausing) production.' },
    REVENUE: { description: 'Reported revenue attributable to the market.' },
    WRITE_DOWN: { description: 'An inventory charge or write-down.' },
  } as const,
});

export const SignalDirection = builder.enumType('SignalDirection', {
  description: 'Whether a signal points to more or less demand.',
  values: {
    POSITIVE: { description: 'More demand.' },
    NEGATIVE: { description: 'Less demand.' },
    NEUTRAL: { description: 'Neither.' },
  } as const,
});

export const SignalStrength = builder.enumType('SignalStrength', {
  description: 'How strong the evidence of a signal is.',
  values: {
    LOW: { description: 'Weak or single-source evidence.' },
    MEDIUM: { description: 'Moderate evidence.' },
    HIGH: { description: 'Strong evidence, e.g. company filings or several reports.' },
  } as const,
});

export const FactConfidence = builder.enumType('FactConfidence', {
  description: 'How well a curated fact is sourced.',
  values: {
    VERIFIED: { description: 'Confirmed in the cited `sourceUrl`.' },
    RECALLED: {
      description: 'From background knowledge or only partly confirmed; treat as unverified.',
    },
  } as const,
});

export const PolicyDecisionOrder = builder.enumType('PolicyDecisionOrder', {
  description: 'Orderings of policy decisions. Ties are broken by `slug` in the same direction.',
  values: {
    ANNOUNCED_ON_ASC: { description: 'Oldest announcement first.' },
    ANNOUNCED_ON_DESC: { description: 'Newest announcement first (the default).' },
  } as const,
});

export const DemandSignalOrder = builder.enumType('DemandSignalOrder', {
  description: 'Orderings of demand signals. Ties are broken by `slug` in the same direction.',
  values: {
    OBSERVED_ON_ASC: { description: 'Oldest first.' },
    OBSERVED_ON_DESC: { description: 'Newest first (the default).' },
  } as const,
});
