/**
 * The Federal Register API (https://www.federalregister.gov/developers/documentation/api/v1):
 * documents by number, batched (`documents/{n1},{n2}.json`), and document searches.
 * No key; about 5 requests/s. Payloads are validated with zod: a changed format is
 * `SOURCE_INVALID_RESPONSE`, never wrong data.
 */
import { z } from 'zod';
import { sourceInvalidResponse } from '../errors.js';
import type { Source, Sourced, SourcePolicy } from './http.js';

/** How calls to this upstream are made (an API: redirects only on its own origin, so its headers never reach another host). */
export const FEDERAL_REGISTER_POLICY: SourcePolicy = {
  label: 'The Federal Register API',
  crossOriginRedirects: false,
};

/** The fields chipgate asks for (`fields[]=`), beyond which the API sends nothing. */
export const DOCUMENT_FIELDS = [
  'document_number',
  'title',
  'type',
  'action',
  'abstract',
  'publication_date',
  'effective_on',
  'citation',
  'html_url',
  'pdf_url',
  'agencies',
  'regulation_id_numbers',
] as const;

/** Most document numbers in one batched call (the URL stays far below common 2 KB limits). */
export const MAX_DOCUMENTS_PER_CALL = 20;

const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, { error: 'expected a YYYY-MM-DD date' });

/** One document as the API sends it (the fields of `DOCUMENT_FIELDS`). */
export const federalRegisterDocumentSchema = z.object({
  document_number: z.string().min(1),
  title: z.string(),
  type: z.string(),
  action: z.string().nullish(),
  abstract: z.string().nullish(),
  publication_date: isoDate,
  effective_on: isoDate.nullish(),
  citation: z.string().nullish(),
  html_url: z.string().url(),
  pdf_url: z.string().url().nullish(),
  agencies: z
    .array(
      z.object({
        name: z.string().nullish(),
        raw_name: z.string().nullish(),
        slug: z.string().nullish(),
      }),
    )
    .default([]),
  regulation_id_numbers: z.array(z.string()).nullish(),
});

/** A Federal Register document (validated). */
export type FederalRegisterDocument = z.infer<typeof federalRegisterDocumentSchema>;

const batchSchema = z.object({
  count: z.number().int().optional(),
  results: z.array(z.unknown()).default([]),
  errors: z
    .object({ not_found: z.array(z.string()).optional() })
    .partial()
    .optional(),
});

/** The search envelope; `results` and paging fields are omitted when nothing matches. */
export const searchEnvelopeSchema = z.object({
  count: z.number().int().nonnegative(),
  total_pages: z.number().int().nonnegative().optional(),
  next_page_url: z.string().url().nullish(),
  results: z.array(z.unknown()).default([]),
});

/** Search conditions for `documents.json`. */
export interface DocumentSearch {
  /** Agency slug, e.g. `industry-and-security-bureau`. */
  agency: string;
  /** API type codes: `RULE`, `PRORULE`, `NOTICE`, `PRESDOCU`. */
  types: string[];
  /** Publication date from / to, `YYYY-MM-DD`, inclusive. */
  from?: string | null;
  to?: string | null;
  /** Full-text search term. */
  term?: string | null;
  order: 'newest' | 'oldest';
}

/** One page of a search. */
export interface SearchPage {
  /** Matching documents in all pages (the API caps it at 10,000). */
  count: number;
  /** Valid documents of this page; invalid ones are left out (see `invalid`). */
  documents: FederalRegisterDocument[];
  /**
   * Every result of this page in the upstream's order, null where the schema rejected one, so
   * a result's position in the register's list is `(page - 1) * perPage + index`.
   */
  results: (FederalRegisterDocument | null)[];
  /** Results of this page the schema rejected. */
  invalid: number;
  nextPageUrl: string | null;
}

/**
 * True for the API's own answer to an unknown document, `{"status":404,"message":"Record Not
 * Found"}`; a 404 with any other body (an HTML page: a wrong base URL) is not "no document".
 */
export function isRecordNotFound(body: string): boolean {
  try {
    return (JSON.parse(body) as { status?: unknown } | null)?.status === 404;
  } catch {
    return false;
  }
}

const fieldParams = () => DOCUMENT_FIELDS.map((field) => `fields[]=${field}`).join('&');

/** Client of the Federal Register API over a `Source` (deadline, retries, breaker, cache). */
export class FederalRegisterClient {
  constructor(
    readonly source: Source,
    readonly baseUrl: string,
  ) {}

  /** The `documents.json` URL of a search page (1-based). */
  searchUrl(search: DocumentSearch, page: number, perPage: number): string {
    const params = new URLSearchParams();
    params.append('conditions[agencies][]', search.agency);
    for (const type of search.types) params.append('conditions[type][]', type);
    if (search.from) params.append('conditions[publication_date][gte]', search.from);
    if (search.to) params.append('conditions[publication_date][lte]', search.to);
    if (search.term) params.append('conditions[term]', search.term);
    params.append('per_page', String(perPage));
    params.append('page', String(page));
    params.append('order', search.order);
    return `${this.baseUrl}/documents.json?${params}&${fieldParams()}`;
  }

  /**
   * Documents by number, from the cache or in batched calls of at most
   * `MAX_DOCUMENTS_PER_CALL`; one result per number in order: the document, null when the
   * API has none, or the error of the call that should have brought it.
   */
  documents(
    numbers: readonly string[],
  ): Promise<(Sourced<FederalRegisterDocument | null> | Error)[]> {
    return this.source.cachedMany(
      numbers,
      async (missing) => {
        const found = new Map<string, FederalRegisterDocument | Error>();
        const chunks: string[][] = [];
        for (let i = 0; i < missing.length; i += MAX_DOCUMENTS_PER_CALL) {
          chunks.push(missing.slice(i, i + MAX_DOCUMENTS_PER_CALL));
        }
        // Chunks go out together (the rate limiter paces them); a failed chunk fails only its
        // own numbers.
        await Promise.all(
          chunks.map(async (chunk) => {
            try {
              for (const [number, document] of await this.fetchDocuments(chunk)) {
                found.set(number, document);
              }
            } catch (error) {
              for (const number of chunk) found.set(number, error as Error);
            }
          }),
        );
        return found;
      },
      (number) => `document:${number}`,
    );
  }

  private async fetchDocuments(numbers: string[]): Promise<Map<string, FederalRegisterDocument>> {
    const path = numbers.map(encodeURIComponent).join(',');
    const answer = await this.source.get(
      `${this.baseUrl}/documents/${path}.json?${fieldParams()}`,
      { notFound: isRecordNotFound },
    );
    const found = new Map<string, FederalRegisterDocument>();
    if (answer.status === 404) return found;
    const json = this.source.parseJson(answer.body, z.unknown(), 'documents');
    // One number answers with the document itself, several with a batch envelope.
    const results =
      numbers.length === 1
        ? [json]
        : this.source.validate(json, batchSchema, 'a document batch').results;
    for (const result of results) {
      const document = this.source.validate(result, federalRegisterDocumentSchema, 'a document');
      found.set(document.document_number, document);
    }
    return found;
  }

  /** One search page, cached by URL. */
  search(search: DocumentSearch, page: number, perPage: number): Promise<Sourced<SearchPage>> {
    return this.fetchPage(this.searchUrl(search, page, perPage));
  }

  /**
   * A search page by URL (a `searchUrl` or a `next_page_url`), cached by URL. A
   * `next_page_url` on another origin than the configured API is refused.
   */
  fetchPage(url: string): Promise<Sourced<SearchPage>> {
    return this.source.cached(`search:${url}`, async () => ({ value: await this.readPage(url) }));
  }

  /** A search page by URL, from the upstream (not the cache); for the sync. */
  async readPage(url: string): Promise<SearchPage> {
    if (new URL(url).origin !== new URL(this.baseUrl).origin) {
      throw sourceInvalidResponse(
        'federal-register',
        `The Federal Register API pointed to a page on another host (${new URL(url).origin}).`,
      );
    }
    const answer = await this.source.get(url);
    const envelope = this.source.parseJson(answer.body, searchEnvelopeSchema, 'search results');
    const results = envelope.results.map((result) => {
      const parsed = federalRegisterDocumentSchema.safeParse(result);
      return parsed.success ? parsed.data : null;
    });
    const documents = results.filter((document) => document !== null);
    return {
      count: envelope.count,
      documents,
      results,
      invalid: results.length - documents.length,
      nextPageUrl: envelope.next_page_url ?? null,
    };
  }
}
