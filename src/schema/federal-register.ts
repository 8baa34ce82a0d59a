/**
 * `FederalRegisterDocument`: a document of the Federal Register, live from its API
 * (federalregister.gov/api/v1): `PolicyDecision.federalRegisterDocument` for the rule a curated
 * decision names, and `Query.federalRegisterDocuments` to search the register.
 * Source: the Federal Register API, cached (see `SourceInfo`).
 */
import { createHash } from 'node:crypto';
import type { GraphQLError } from 'graphql';
import { builder } from '../builder.js';
import type { Context } from '../context.js';
import { PAGE_ITEMS_COMPLEXITY, pageComplexity } from '../cost.js';
import { type CursorScheme, decodeCursor, encodeCursor } from '../db/cursors.js';
import { PLAIN_LIST_MAX } from '../db/limits.js';
import { BadUserInputError } from '../errors.js';
import { limitedTo, textLimit } from '../input-limits.js';
import { pageSize } from '../paging.js';
import { resolvedAround } from '../plan/metadata.js';
import type { FederalRegisterDocument as DocumentShape } from '../sources/federal-register.js';
import type { Sourced } from '../sources/http.js';
import { federalRegisterDocuments } from '../sources/index.js';
import { UpstreamRefusedError } from '../sources/request.js';
import { PolicyDecision } from './policy-decision.js';
import { SourceInfo } from './source-info.js';

type SourcedDocument = Sourced<DocumentShape>;

/** The agency BIS rules are filed under (`bureau-of-industry-and-security` is refused by the API). */
export const BIS_AGENCY = 'industry-and-security-bureau';

/** `FederalRegisterAgency { name slug }`: an issuing agency of a document. */
export const FederalRegisterAgency = builder
  .objectRef<{ name: string; slug: string | null }>('FederalRegisterAgency')
  .implement({
    description: 'An agency that issued a Federal Register document.',
    fields: (t) => ({
      name: t.exposeString('name', {
        description: 'Agency name as the register gives it, e.g. `Industry and Security Bureau`.',
      }),
      slug: t.exposeString('slug', {
        nullable: true,
        description: "The register's agency slug, e.g. `industry-and-security-bureau`.",
      }),
    }),
  });

/** `FederalRegisterDocument`: a document as the Federal Register API returns it, with provenance. */
export const FederalRegisterDocument = builder
  .objectRef<SourcedDocument>('FederalRegisterDocument')
  .implement({
    description:
      'A document published in the U.S. Federal Register (a rule, proposed rule, notice or ' +
      'presidential document), as its API returns it. Live data, cached; see `source`.',
    fields: (t) => ({
      documentNumber: t.string({
        description: 'Federal Register document number, e.g. `2026-00789`.',
        resolve: ({ value }) => value.document_number,
      }),
      title: t.string({ description: 'Official title.', resolve: ({ value }) => value.title }),
      type: t.string({
        description: 'Document type: `Rule`, `Proposed Rule`, `Notice` or `Presidential Document`.',
        resolve: ({ value }) => value.type,
      }),
      action: t.string({
        nullable: true,
        description: 'The action line, e.g. `Final rule.`, `Interim final rule.`.',
        resolve: ({ value }) => value.action ?? null,
      }),
      abstract: t.string({
        nullable: true,
        description: "The agency's abstract (summary) of the document, when it has one.",
        resolve: ({ value }) => value.abstract ?? null,
      }),
      publicationDate: t.field({
        type: 'Date',
        description: 'Date of publication in the Federal Register.',
        resolve: ({ value }) => value.publication_date,
      }),
      effectiveOn: t.field({
        type: 'Date',
        nullable: true,
        description: 'Date the rule takes effect, when the document gives one.',
        resolve: ({ value }) => value.effective_on ?? null,
      }),
      citation: t.string({
        nullable: true,
        description: 'Citation, e.g. `91 FR 1684`; null until the document is paginated.',
        resolve: ({ value }) => value.citation ?? null,
      }),
      htmlUrl: t.field({
        type: 'URL',
        description: 'The document on federalregister.gov.',
        resolve: ({ value }) => value.html_url,
      }),
      pdfUrl: t.field({
        type: 'URL',
        nullable: true,
        description: 'The official PDF (govinfo.gov).',
        resolve: ({ value }) => value.pdf_url ?? null,
      }),
      regulationIdentifierNumbers: t.stringList({
        description: 'Regulation Identifier Numbers (RIN), e.g. `["0694-AK43"]`.',
        resolve: ({ value }) => value.regulation_id_numbers ?? [],
      }),
      agencies: t.field({
        type: [FederalRegisterAgency],
        description: `Issuing agencies, parent department first (at most ${PLAIN_LIST_MAX}).`,
        // A plain list holds at most PLAIN_LIST_MAX items, which is what it is charged for.
        resolve: ({ value }) =>
          value.agencies.slice(0, PLAIN_LIST_MAX).map((agency) => ({
            name: agency.name ?? agency.raw_name ?? agency.slug ?? 'unknown',
            slug: agency.slug ?? null,
          })),
      }),
      source: t.field({
        type: SourceInfo,
        description:
          'Provenance: source `federal-register`, when it was fetched, and whether stale.',
        resolve: ({ info }) => info,
      }),
    }),
  });

builder.drizzleObjectField(PolicyDecision, 'federalRegisterDocument', (t) =>
  t.field({
    type: FederalRegisterDocument,
    nullable: true,
    description:
      'The Federal Register document of this decision (by `federalRegisterDocumentNumber`), live ' +
      'from the Federal Register API. Null when the decision has no document number or the ' +
      'register has no such document; null with an error `SOURCE_UNAVAILABLE` or ' +
      '`SOURCE_INVALID_RESPONSE` (and `extensions.source: "federal-register"`) when the API ' +
      'fails and no cached copy exists. The rest of the response is unaffected.',
    ...resolvedAround(
      'the Federal Register API (an external source)',
      ['federalRegisterDocumentNumber'],
      async (
        decision: { federalRegisterDocumentNumber: string | null },
        _args: unknown,
        ctx: Context,
      ) => {
        const number = decision.federalRegisterDocumentNumber;
        if (!number) return null;
        const document = await ctx.loaders.load(federalRegisterDocuments, number);
        return document.value ? { value: document.value, info: document.info } : null;
      },
    ),
  }),
);

/** Document types of the search filter, mapped to the API's codes (`RULE`, `PRORULE`, ...). */
export const FederalRegisterDocumentType = builder.enumType('FederalRegisterDocumentType', {
  description: 'Federal Register document types.',
  values: {
    RULE: { value: 'RULE', description: 'Final and interim final rules (`Rule`).' },
    PROPOSED_RULE: { value: 'PRORULE', description: 'Proposed rules (`Proposed Rule`).' },
    NOTICE: { value: 'NOTICE', description: 'Notices (`Notice`).' },
    PRESIDENTIAL_DOCUMENT: {
      value: 'PRESDOCU',
      description: 'Proclamations, executive orders and other presidential documents.',
    },
  } as const,
});

/** Search conditions of `Query.federalRegisterDocuments`. */
export const FederalRegisterDocumentFilter = builder.inputType('FederalRegisterDocumentFilter', {
  description: 'Search conditions for `Query.federalRegisterDocuments`. All given must hold.',
  fields: (t) => ({
    agency: t.string(
      textLimit(
        'slug',
        `Agency slug; default \`${BIS_AGENCY}\` (the Bureau of Industry and Security).`,
      ),
    ),
    type: t.field({ type: [FederalRegisterDocumentType], description: 'Any of these types.' }),
    from: t.field({ type: 'Date', description: 'Published on or after this date.' }),
    to: t.field({ type: 'Date', description: 'Published on or before this date.' }),
    term: t.string(
      textLimit(
        'searchTerm',
        'Full-text search (matches body text too, so it is broad), e.g. `3A090`.',
      ),
    ),
  }),
});

/**
 * Cursors of `federalRegisterDocuments`: a position in the register's result list and the
 * search it belongs to (a digest of its conditions), since the same position is another
 * document under other conditions. (The earlier `FederalRegister:<position>` cursors did not
 * say which search, and are refused.)
 */
const SEARCH_CURSOR: CursorScheme = {
  list: 'Query.federalRegisterDocuments',
  shape: ['id', 'text'],
};

/** The register answers at most the first 10,000 results of a search. */
const MAX_SEARCH_RESULTS = 10_000;

/** A short digest of a search's conditions, carried by its cursors. */
const searchKey = (search: object) =>
  createHash('sha256').update(JSON.stringify(search)).digest('base64url').slice(0, 16);

const encodeOffset = (key: string, offset: number) => encodeCursor(SEARCH_CURSOR, [offset, key]);

/** The position `after` points at in the search `key` (-1 without a cursor). */
function decodeOffset(cursor: string | null | undefined, key: string): number {
  if (cursor == null) return -1;
  const [offset, issuedFor] = decodeCursor('after', cursor, SEARCH_CURSOR);
  if (issuedFor !== key) {
    throw new BadUserInputError(
      'Argument "after" is a cursor of another search: page on with the filter its page was fetched with, or start again without "after".',
    );
  }
  return offset as number;
}

/**
 * The error of a failed search: a 400 from the register is the user's filter (the API refuses
 * e.g. an unknown agency slug), so `BAD_USER_INPUT` with the register's reasons; others as they are.
 */
function searchError(error: GraphQLError): GraphQLError {
  if (!(error instanceof UpstreamRefusedError && error.status === 400)) return error;
  let reasons: string[] = [];
  try {
    const leaves = (value: unknown): string[] =>
      typeof value === 'string'
        ? [value]
        : value && typeof value === 'object'
          ? Object.values(value).flatMap(leaves)
          : [];
    reasons = leaves((JSON.parse(error.body) as { errors?: unknown }).errors);
  } catch {
    // Not the API's error JSON: no reasons to give.
  }
  const said = reasons.length ? ` (it said: ${reasons.join('; ').slice(0, 300)})` : '';
  return new BadUserInputError(
    `The Federal Register refused this search as invalid${said}. Check the filter: "agency" must be a slug the register knows, such as ${BIS_AGENCY} (see https://www.federalregister.gov/api/v1/agencies.json).`,
  );
}

interface SearchResult {
  edges: { cursor: string; node: SourcedDocument }[];
  pageInfo: {
    hasNextPage: boolean;
    hasPreviousPage: boolean;
    startCursor: string | null;
    endCursor: string | null;
  };
  totalCount: number;
  source: Sourced<unknown>['info'] | null;
}

/** A page of `first: 0`, whose counts are fetched only when selected. */
interface LaterSearchResult {
  later: () => Promise<SearchResult>;
}

const resolved = async (connection: SearchResult | LaterSearchResult) =>
  'later' in connection ? connection.later() : connection;

/** A forward-only page of search results; its cursors carry the position in the register's list. */
export const FederalRegisterDocumentConnection = builder
  .objectRef<SearchResult | LaterSearchResult>('FederalRegisterDocumentConnection')
  .implement({
    description: 'A page of Federal Register search results, newest publication first.',
    fields: (t) => ({
      edges: t.field({
        type: [
          builder
            .objectRef<SearchResult['edges'][number]>('FederalRegisterDocumentEdge')
            .implement({
              description: 'One search result with its cursor.',
              fields: (e) => ({
                cursor: e.exposeString('cursor', {
                  description: 'Opaque position of this result; pass it as `after`.',
                }),
                node: e.field({
                  type: FederalRegisterDocument,
                  description: 'The document.',
                  resolve: (edge) => edge.node,
                }),
              }),
            }),
        ],
        description: 'The results of this page.',
        complexity: PAGE_ITEMS_COMPLEXITY,
        resolve: (connection) => ('later' in connection ? [] : connection.edges),
      }),
      pageInfo: t.field({
        type: builder.pageInfoRef(),
        description: 'Where this page sits; pass `endCursor` as `after` for the next page.',
        resolve: async (connection) => (await resolved(connection)).pageInfo,
      }),
      totalCount: t.int({
        description:
          'Matching documents across all pages, as the API counts them (it stops counting at 10,000).',
        resolve: async (connection) => (await resolved(connection)).totalCount,
      }),
      source: t.field({
        type: SourceInfo,
        nullable: true,
        description: 'Provenance of this page (null for an empty page that needed no call).',
        resolve: async (connection) => (await resolved(connection)).source,
      }),
    }),
  });

builder.queryField('federalRegisterDocuments', (t) =>
  t.field({
    type: FederalRegisterDocumentConnection,
    nullable: true,
    description:
      'Searches the Federal Register live (default: BIS documents), newest publication first. ' +
      'Forward paging only (`first`, `after`); the cursor carries the position in the ' +
      "register's own result list, so pages are as stable as the register; the register answers " +
      'at most the first 10,000 results (a cursor beyond is `BAD_USER_INPUT`). A result the ' +
      'register sends in an unexpected format is left out (a page may then have fewer edges ' +
      'than `first`, and `pageInfo.endCursor` still points past it) and reported in ' +
      '`extensions.sources` as `{ error: "SOURCE_INVALID_RESPONSE", skipped: <count> }`. Null ' +
      'with `SOURCE_UNAVAILABLE` / `SOURCE_INVALID_RESPONSE` when the API fails, and with ' +
      '`BAD_USER_INPUT` when the register refuses the filter (e.g. an agency slug it does not ' +
      'know).',
    args: {
      filter: t.arg({ type: FederalRegisterDocumentFilter, description: 'Search conditions.' }),
      first: t.arg.int({
        description:
          'Page size: 0 to 100, default 20. With 0 the register is called only when ' +
          '`totalCount`, `pageInfo` or `source` is selected.',
      }),
      after: t.arg.string({
        description: 'Return results after this cursor (an `endCursor`).',
        extensions: limitedTo('cursor'),
      }),
    },
    complexity: (args) => pageComplexity(pageSize({ first: args.first })),
    resolve: async (_root, args, ctx) => {
      const size = pageSize({ first: args.first });
      const agency = args.filter?.agency ?? BIS_AGENCY;
      if (!/^[a-z0-9]+(-[a-z0-9]+)*$/.test(agency)) {
        throw new BadUserInputError(
          `"agency" must be a Federal Register agency slug like ${BIS_AGENCY}, got "${agency.slice(0, 60)}".`,
        );
      }
      const client = ctx.sources.federalRegister();
      const search = {
        agency,
        types: args.filter?.type ?? [],
        from: args.filter?.from ?? null,
        to: args.filter?.to ?? null,
        term: args.filter?.term ?? null,
        order: 'newest' as const,
      };
      const key = searchKey(search);
      const start = decodeOffset(args.after, key) + 1;
      if (start >= MAX_SEARCH_RESULTS) {
        throw new BadUserInputError(
          `The Federal Register answers only the first ${MAX_SEARCH_RESULTS} results of a search; narrow it with filter.from and filter.to instead of paging further.`,
        );
      }
      const load = async (): Promise<SearchResult> => {
        // Pages of `size` results: the window [start, start + size) lies in one page when paging
        // with one page size throughout, else across two. Positions are the register's own
        // (`(page - 1) * perPage + index`), so an invalid result left out shifts no cursor.
        const perPage = Math.max(size, 1);
        const firstPage = Math.floor(start / perPage) + 1;
        const lastPage = Math.floor((start + perPage - 1) / perPage) + 1;
        const pages = [];
        const window: { position: number; node: SourcedDocument | null }[] = [];
        for (let page = firstPage; page <= lastPage; page += 1) {
          const result = await client.search(search, page, perPage).catch((error: GraphQLError) => {
            const failure = searchError(error);
            ctx.sources.provenance.failed('federal-register', 'documents.json', failure);
            throw failure;
          });
          pages.push(result);
          let skipped = 0;
          result.value.results.forEach((value, i) => {
            const position = (page - 1) * perPage + i;
            if (position < start || position >= start + size) return;
            window.push({ position, node: value ? { value, info: result.info } : null });
            if (!value) skipped += 1;
          });
          const resource = `documents.json?page=${page}`;
          if (skipped > 0) ctx.sources.provenance.skipped(resource, result.info, skipped);
          else ctx.sources.provenance.used(resource, result.info);
          if (result.value.results.length < perPage) break;
        }
        const edges = window.flatMap(({ position, node }) =>
          node ? [{ cursor: encodeOffset(key, position), node }] : [],
        );
        const first = window[0]?.position;
        const last = window.at(-1)?.position;
        const totalCount = pages[0]?.value.count ?? 0;
        return {
          edges,
          pageInfo: {
            hasNextPage: (last ?? start - 1) + 1 < totalCount,
            hasPreviousPage: start > 0,
            // The window's ends, even when the result there was invalid and left out.
            startCursor: first === undefined ? null : encodeOffset(key, first),
            endCursor: last === undefined ? null : encodeOffset(key, last),
          },
          totalCount,
          source: pages[0]?.info ?? null,
        };
      };
      // `first: 0` asks for no results: the register is called only if the counts are selected.
      if (size === 0) {
        let loaded: Promise<SearchResult> | undefined;
        return { later: () => (loaded ??= load()) };
      }
      return load();
    },
  }),
);
