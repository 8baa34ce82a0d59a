/**
 * A fixture upstream: one real HTTP server on 127.0.0.1 (port 0) that answers like the
 * Federal Register API (`/fr/...`), SEC EDGAR company facts (`/sec/...`) and two news feeds
 * (`/news/chips.xml` RSS 2.0, `/news/policy.atom` Atom), in their documented formats, with
 * values taken from the seed dataset (the six BIS rules, NVIDIA's, AMD's and TSMC's filings).
 * Tests tell it to misbehave per path prefix (slow, 500, 429 + Retry-After, malformed,
 * oversized, hang, redirect) and read how often each path was called.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadEnv, sourcesConfigOf } from '../../src/env.js';
import type { SourcesConfig } from '../../src/sources/index.js';
import {
  CHIPS_RSS,
  COMPANY_FACTS,
  EXTRA_DOCUMENTS,
  type FixtureDocument,
  LATIN1_RSS,
  POLICY_ATOM,
  SEED_DOCUMENTS,
} from './upstream-data.js';

/** What a path prefix does instead of answering normally. */
export type Misbehaviour =
  | { kind: 'status'; status: number; retryAfter?: string; times?: number }
  | { kind: 'malformed'; times?: number }
  | { kind: 'oversized'; bytes: number; times?: number }
  | { kind: 'hang'; times?: number }
  | { kind: 'delay'; ms: number }
  /** 302 to the same path and query on `origin`. */
  | { kind: 'redirect'; origin: string; times?: number };

/** A running fixture upstream. */
export interface Upstream {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** Federal Register documents by number (tests may add). */
  documents: Map<string, FixtureDocument>;
  /** Makes requests whose path starts with `prefix` misbehave (`times`: that many, then normal). */
  misbehave(prefix: string, behaviour: Misbehaviour): void;
  /** Back to normal behaviour and zero call counts. */
  reset(): void;
  /** Requests received whose path starts with `prefix`. */
  calls(prefix?: string): number;
  /** Request paths (with query) and headers, in order. */
  log: { path: string; headers: IncomingMessage['headers']; status: number; at: number }[];
  /** Replaces a feed's body, or adds an RSS feed at `/news/<name>` (a new ETag follows). */
  setFeed(name: string, body: string | Buffer): void;
  close(): Promise<void>;
}

const etagOf = (body: string | Buffer) => {
  const bytes = Buffer.from(body);
  let h = 0;
  for (const byte of bytes) h = (h * 31 + byte) | 0;
  return `"${bytes.length.toString(16)}-${(h >>> 0).toString(16)}"`;
};

const TYPE_CODES: Record<string, string> = {
  RULE: 'Rule',
  PRORULE: 'Proposed Rule',
  NOTICE: 'Notice',
  PRESDOCU: 'Presidential Document',
};

/** Starts the fixture upstream with the seed's documents plus `EXTRA_DOCUMENTS`. */
export async function startUpstream(): Promise<Upstream> {
  const documents = new Map<string, FixtureDocument>(
    [...SEED_DOCUMENTS, ...EXTRA_DOCUMENTS].map((d) => [d.document_number, d]),
  );
  const feeds = new Map<string, { body: string | Buffer; type: string; modified: string }>([
    [
      'latin1.xml',
      { body: LATIN1_RSS, type: 'text/xml', modified: 'Fri, 19 Dec 2025 09:00:00 GMT' },
    ],
    [
      'chips.xml',
      { body: CHIPS_RSS, type: 'application/rss+xml', modified: 'Wed, 14 Jan 2026 09:00:00 GMT' },
    ],
    [
      'policy.atom',
      {
        body: POLICY_ATOM,
        type: 'application/atom+xml',
        modified: 'Thu, 29 Jan 2026 12:00:00 GMT',
      },
    ],
  ]);
  const rules: { prefix: string; behaviour: Misbehaviour; used: number }[] = [];
  const log: Upstream['log'] = [];
  const hanging = new Set<ServerResponse>();
  let base = '';

  const send = (
    res: ServerResponse,
    status: number,
    body: string | Buffer,
    headers: Record<string, string> = {},
  ) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
    res.end(body);
  };

  function federalRegister(url: URL, res: ServerResponse) {
    const batch = /^\/fr\/documents\/([^/]+)\.json$/.exec(url.pathname);
    if (batch?.[1]) {
      const numbers = decodeURIComponent(batch[1]).split(',');
      if (numbers.length === 1) {
        const document = documents.get(numbers[0] ?? '');
        if (!document)
          return send(res, 404, JSON.stringify({ status: 404, message: 'Record Not Found' }));
        return send(res, 200, JSON.stringify(document));
      }
      const results = numbers.flatMap((n) => documents.get(n) ?? []);
      const notFound = numbers.filter((n) => !documents.has(n));
      return send(
        res,
        200,
        JSON.stringify({
          count: results.length,
          results,
          ...(notFound.length ? { errors: { not_found: notFound } } : {}),
        }),
      );
    }
    if (url.pathname === '/fr/documents.json') {
      const q = url.searchParams;
      const agency = q.get('conditions[agencies][]');
      const known = [...documents.values()].some((d) => d.agencies.some((a) => a.slug === agency));
      if (agency && !known) {
        // The register refuses an agency slug it does not know (e.g. the intuitive
        // `bureau-of-industry-and-security`).
        return send(
          res,
          400,
          JSON.stringify({
            errors: { agencies: [`${agency} is not a valid agency`] },
          }),
        );
      }
      const types = q.getAll('conditions[type][]').map((code) => TYPE_CODES[code]);
      const gte = q.get('conditions[publication_date][gte]');
      const lte = q.get('conditions[publication_date][lte]');
      const term = q.get('conditions[term]')?.toLowerCase();
      const perPage = Number(q.get('per_page') ?? 20);
      const page = Number(q.get('page') ?? 1);
      const matches = [...documents.values()]
        .filter((d) => !agency || d.agencies.some((a) => a.slug === agency))
        .filter((d) => types.length === 0 || types.includes(d.type))
        .filter((d) => (!gte || d.publication_date >= gte) && (!lte || d.publication_date <= lte))
        .filter((d) => !term || `${d.title} ${d.abstract ?? ''}`.toLowerCase().includes(term))
        .sort((a, b) =>
          q.get('order') === 'oldest'
            ? a.publication_date.localeCompare(b.publication_date) ||
              a.document_number.localeCompare(b.document_number)
            : b.publication_date.localeCompare(a.publication_date) ||
              b.document_number.localeCompare(a.document_number),
        );
      if (matches.length === 0) {
        return send(res, 200, JSON.stringify({ count: 0, description: 'No documents' }));
      }
      const totalPages = Math.ceil(matches.length / perPage);
      const next = new URL(url.href, base);
      next.searchParams.set('page', String(page + 1));
      return send(
        res,
        200,
        JSON.stringify({
          count: matches.length,
          description: 'Documents from Industry and Security Bureau',
          total_pages: totalPages,
          next_page_url: page < totalPages ? `${base}${next.pathname}${next.search}` : null,
          previous_page_url: null,
          results: matches.slice((page - 1) * perPage, page * perPage),
        }),
      );
    }
    return send(res, 400, JSON.stringify({ errors: { request: 'unknown path' } }));
  }

  function sec(url: URL, req: IncomingMessage, res: ServerResponse) {
    if (!req.headers['user-agent']?.includes('@')) {
      return send(res, 403, JSON.stringify({ message: 'Undeclared automated tool' }));
    }
    const match = /^\/sec\/api\/xbrl\/companyfacts\/CIK(\d{10})\.json$/.exec(url.pathname);
    const facts = match?.[1] ? COMPANY_FACTS[String(Number(match[1]))] : undefined;
    if (!facts)
      return send(res, 404, '<Error><Code>NoSuchKey</Code></Error>', {
        'content-type': 'application/xml',
      });
    return send(res, 200, JSON.stringify(facts));
  }

  function news(url: URL, req: IncomingMessage, res: ServerResponse) {
    const feed = feeds.get(url.pathname.replace(/^\/news\//, ''));
    if (!feed) return send(res, 404, 'not found', { 'content-type': 'text/plain' });
    const etag = etagOf(feed.body);
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, { etag, 'last-modified': feed.modified });
      return res.end();
    }
    return send(res, 200, feed.body, {
      'content-type': feed.type,
      etag,
      'last-modified': feed.modified,
    });
  }

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', base);
    const path = `${url.pathname}${url.search}`;
    const entry = { path, headers: req.headers, status: 0, at: performance.now() };
    log.push(entry);
    res.on('finish', () => {
      entry.status = res.statusCode;
    });
    const rule = rules.find(
      (r) =>
        url.pathname.startsWith(r.prefix) &&
        (!('times' in r.behaviour) ||
          r.behaviour.times === undefined ||
          r.used < r.behaviour.times),
    );
    const answer = () => {
      if (url.pathname.startsWith('/fr/')) return federalRegister(url, res);
      if (url.pathname.startsWith('/sec/')) return sec(url, req, res);
      if (url.pathname.startsWith('/news/')) return news(url, req, res);
      // Anything else is a web server's HTML "Not Found" (what a wrong base URL meets).
      return send(res, 404, '<!DOCTYPE html><html><body><h1>Not Found</h1></body></html>', {
        'content-type': 'text/html; charset=utf-8',
      });
    };
    if (!rule) return answer();
    rule.used += 1;
    const behaviour = rule.behaviour;
    switch (behaviour.kind) {
      case 'status':
        return send(res, behaviour.status, JSON.stringify({ error: 'fixture failure' }), {
          ...(behaviour.retryAfter ? { 'retry-after': behaviour.retryAfter } : {}),
        });
      case 'malformed':
        return send(res, 200, '{"count": 3, "results": [{"document_number": ');
      case 'oversized':
        // No content-length: the client has to count while streaming.
        res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
        res.write(`{"padding": "${'x'.repeat(behaviour.bytes)}`);
        return res.end('"}');
      case 'hang':
        hanging.add(res);
        res.on('close', () => hanging.delete(res));
        return;
      case 'delay':
        setTimeout(answer, behaviour.ms);
        return;
      case 'redirect':
        res.writeHead(302, { location: `${behaviour.origin}${path}` });
        return res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url: base,
    documents,
    log,
    misbehave(prefix, behaviour) {
      rules.unshift({ prefix, behaviour, used: 0 });
    },
    reset() {
      rules.length = 0;
      log.length = 0;
      for (const res of hanging) res.destroy();
    },
    calls(prefix = '/') {
      return log.filter((entry) => entry.path.startsWith(prefix)).length;
    },
    setFeed(name, body) {
      const feed = feeds.get(name);
      if (feed) feed.body = body;
      else
        feeds.set(name, {
          body,
          type: 'application/rss+xml',
          modified: 'Thu, 29 Jan 2026 12:00:00 GMT',
        });
    },
    async close() {
      for (const res of hanging) res.destroy();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}

/**
 * Source settings for tests that compare answers rather than test deadlines (the differential
 * and cost-bound walks): a 15 s source deadline, so that a loaded machine's slow fixture
 * response is not a null field on one path and an answer on the other.
 */
export const UNHURRIED_SOURCES: Readonly<Record<string, string>> = {
  CHIPGATE_SOURCE_TIMEOUT_MS: '15000',
};

/**
 * Source configuration pointing at `upstream`, derived from environment variables as an
 * operator would set them (rate limits high so tests are not paced; deadline 1 s).
 */
export function upstreamSourcesConfig(
  upstream: { url: string },
  vars: Record<string, string> = {},
): SourcesConfig {
  return sourcesConfigOf(
    loadEnv({
      CHIPGATE_FEDERAL_REGISTER_URL: `${upstream.url}/fr`,
      CHIPGATE_SEC_URL: `${upstream.url}/sec`,
      CHIPGATE_SEC_USER_AGENT: 'chipgate-tests ops@chipgate.example',
      CHIPGATE_NEWS_FEEDS: `${upstream.url}/news/chips.xml,${upstream.url}/news/policy.atom`,
      CHIPGATE_SOURCE_TIMEOUT_MS: '1000',
      CHIPGATE_FEDERAL_REGISTER_RATE: '1000',
      CHIPGATE_SEC_RATE: '1000',
      CHIPGATE_NEWS_RATE: '1000',
      ...vars,
    }),
  );
}
