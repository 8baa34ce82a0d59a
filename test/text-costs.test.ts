/**
 * Every text output field is charged by its declared limit (`textComplexity`), or is named
 * here with what bounds it instead (cursors of pages included: `TEXT_LIMITS.cursor`): a field added without a charge fails this test.
 */
import { getNamedType, isObjectType } from 'graphql';
import { describe, expect, it } from 'vitest';
import { textComplexity } from '../src/cost.js';
import { schema } from '../src/schema/index.js';

/** Text fields without a declared limit, and what bounds their answers instead. */
const UNLIMITED: Record<string, string> = {
  // IDs and event cursors we issue: at most TEXT_LIMITS.globalId (156) ASCII characters.
  'ApiKeyInfo.id': 'issued',
  'Chip.id': 'issued',
  'Company.id': 'issued',
  'DemandSignal.id': 'issued',
  'PolicyDecision.id': 'issued',
  'PolicyDecisionUpdate.id': 'issued',
  'DemandSignal.eventCursor': 'issued',
  'PolicyDecisionUpdate.eventCursor': 'issued',
  // Our own messages and names.
  'ConflictError.message': 'ours',
  'FieldError.message': 'ours',
  'FieldError.path': 'ours',
  'NotFoundError.message': 'ours',
  'ValidationError.message': 'ours',
  'SourceInfo.source': 'ours',
  'ApiKeyInfo.name': 'operator',
  'Chip.derivedFields': 'ours (field names)',
  'Company.secCik': '10 digits',
  'DemandSignal.valueUsd': 'Decimal, 64',
  'MonetaryAmount.amount': 'Decimal, 64',
  'MonetaryAmount.currency': 'ISO 4217 code',
  'FederalRegisterDocumentEdge.cursor': 'ours: an offset and a short digest of the search',
  // External sources: CHIPGATE_SOURCE_MAX_BYTES and CHIPGATE_MAX_RESPONSE_BYTES.
  'PolicyDecision.federalRegisterCitation': 'sync',
  'PolicyDecision.regulationIdentifierNumber': 'sync',
  'PolicyDecision.presidentialDocumentNumber': 'sync',
  'CompanyFinancials.concept': 'SEC',
  'CompanyFinancials.note': 'SEC',
  'FinancialFact.accessionNumber': 'SEC',
  'FinancialFact.fiscalPeriod': 'SEC',
  'FinancialFact.form': 'SEC',
  'FinancialFact.valueUsd': 'SEC',
  'FederalRegisterAgency.name': 'FR',
  'FederalRegisterAgency.slug': 'FR',
  'FederalRegisterDocument.abstract': 'FR',
  'FederalRegisterDocument.action': 'FR',
  'FederalRegisterDocument.citation': 'FR',
  'FederalRegisterDocument.documentNumber': 'FR',
  'FederalRegisterDocument.htmlUrl': 'FR',
  'FederalRegisterDocument.pdfUrl': 'FR',
  'FederalRegisterDocument.regulationIdentifierNumbers': 'FR',
  'FederalRegisterDocument.title': 'FR',
  'FederalRegisterDocument.type': 'FR',
  'NewsItem.source': 'feed',
  'NewsItem.summary': 'feed',
  'NewsItem.title': 'feed',
  'NewsItem.url': 'feed',
};

describe('text fields are charged by their declared limit', () => {
  it('every String or URL field of the stored data declares textComplexity', () => {
    const undeclared: string[] = [];
    const declared: Record<string, number> = {};
    for (const type of Object.values(schema.getTypeMap())) {
      if (type.name.startsWith('__') || !isObjectType(type)) continue;
      for (const field of Object.values(type.getFields())) {
        const named = getNamedType(field.type).name;
        if (!['String', 'URL', 'ID', 'Decimal'].includes(named)) continue;
        const name = `${type.name}.${field.name}`;
        const complexity = field.extensions?.complexity as { field?: number } | undefined;
        if (typeof complexity === 'object' && complexity && !(name in UNLIMITED)) {
          declared[name] = complexity.field ?? 0;
        } else if (!(name in UNLIMITED)) undeclared.push(name);
      }
    }
    expect(undeclared).toEqual([]);
    expect(declared['Company.name']).toBe(textComplexity('shortText').field);
    expect(declared['Company.sourceUrl']).toBe(3);
    expect(declared['PolicyDecision.summary']).toBe(15);
    expect(declared['ChipEdge.cursor']).toBe(3);
    expect(declared['PageInfo.endCursor']).toBe(3);
    expect(Object.keys(declared)).toHaveLength(35);
  });
});
