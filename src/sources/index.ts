/**
 * The external sources, built once per process (`createSources`) and shared by every request:
 * their breakers, rate limiters and caches live here. Each request gets its own DataLoaders and
 * provenance log (`forRequest`), so one GraphQL request makes at most one upstream call per
 * distinct key.
 */
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import { type SourceError, type SourceName, sourceNotConfigured } from '../errors.js';
import { defineLoader } from '../loaders.js';
import {
  FEDERAL_REGISTER_POLICY,
  FederalRegisterClient,
  type FederalRegisterDocument,
} from './federal-register.js';
import {
  Source,
  type Sourced,
  type SourceInfo,
  type SourceLogger,
  type SourceObserver,
  type SourceSettings,
} from './http.js';
import { type Feed, NEWS_POLICY, NewsClient, type NewsItem } from './news.js';
import { type CompanyFinancials, SEC_POLICY, SecClient } from './sec.js';

/** Configuration of every source (see `sourcesConfigOf` in env.ts). */
export interface SourcesConfig {
  federalRegister: SourceSettings & { baseUrl: string };
  /** Off (`SOURCE_NOT_CONFIGURED`) without `userAgent`. */
  sec: SourceSettings & { baseUrl: string; userAgent?: string | undefined };
  /** Off (`SOURCE_NOT_CONFIGURED`) without feeds; `maxItems`: newest items kept per feed. */
  news: SourceSettings & { feeds: string[]; maxItems?: number };
  /** Monotonic milliseconds for cache expiry (default `performance.now`); tests advance one. */
  clock?: { now(): number };
  /** The HTTP client every source calls (default: the global `fetch`). */
  fetch?: typeof fetch;
}

/** The process-wide source clients; null when the source is off. */
export interface Sources {
  federalRegister: FederalRegisterClient | null;
  sec: SecClient | null;
  news: NewsClient | null;
  /** Every `Source` in use, for counters, cache resets and `close`. */
  all: Source[];
  /** Why each source that is off is off, for the start-up warning. */
  disabled: { source: SourceName; reason: string }[];
  close(): Promise<void>;
}

/** The User-Agent sent to the Federal Register and news feeds (the SEC gets the operator's). */
export const CHIPGATE_USER_AGENT = 'chipgate/0.1 (AI-chip export-policy gateway)';

/**
 * Builds the source clients from configuration; `logger` hears of failures and the breakers,
 * `observer` of every call (metrics).
 */
export function createSources(
  config: SourcesConfig,
  logger?: SourceLogger,
  observer?: SourceObserver,
): Sources {
  const all: Source[] = [];
  const disabled: Sources['disabled'] = [];
  const deps = {
    ...(config.clock ? { clock: config.clock } : {}),
    ...(config.fetch ? { fetch: config.fetch } : {}),
    ...(logger ? { logger } : {}),
    ...(observer ? { observer } : {}),
  };
  const federalSource = new Source('federal-register', config.federalRegister, {
    ...FEDERAL_REGISTER_POLICY,
    userAgent: CHIPGATE_USER_AGENT,
    ...deps,
  });
  all.push(federalSource);
  let sec: SecClient | null = null;
  if (config.sec.userAgent) {
    const source = new Source('sec-edgar', config.sec, {
      ...SEC_POLICY,
      userAgent: config.sec.userAgent,
      ...deps,
    });
    all.push(source);
    sec = new SecClient(source, config.sec.baseUrl);
  } else {
    disabled.push({
      source: 'sec-edgar',
      reason:
        'CHIPGATE_SEC_USER_AGENT is not set (the SEC requires "<name> <contact email>"): Company.financials answers SOURCE_NOT_CONFIGURED.',
    });
  }
  let news: NewsClient | null = null;
  if (config.news.feeds.length > 0) {
    const source = new Source('news', config.news, {
      ...NEWS_POLICY,
      userAgent: CHIPGATE_USER_AGENT,
      ...deps,
    });
    all.push(source);
    news = new NewsClient(source, config.news.feeds, config.news.maxItems);
  } else {
    disabled.push({
      source: 'news',
      reason:
        'CHIPGATE_NEWS_FEEDS lists no feed: Company.news and Chip.news answer SOURCE_NOT_CONFIGURED.',
    });
  }
  return {
    federalRegister: new FederalRegisterClient(federalSource, config.federalRegister.baseUrl),
    sec,
    news,
    all,
    disabled,
    async close() {
      await Promise.all(all.map((source) => source.close()));
    },
  };
}

/** Sources that are all off: what an app built without `sources` answers with. */
export function noSources(): Sources {
  return {
    federalRegister: null,
    sec: null,
    news: null,
    all: [],
    disabled: [],
    close: async () => {},
  };
}

/** One entry of `extensions.sources`: an upstream resource the response used. */
export interface ProvenanceEntry {
  source: SourceName;
  /** What was fetched, e.g. `documents/2026-00789`, `companyfacts/CIK0001045810`, a feed URL. */
  resource: string;
  /** ISO timestamp of the upstream's answer; absent when it failed with nothing cached. */
  fetchedAt?: string;
  stale?: boolean;
  /** The error code when the resource could not be had, or when part of it was refused. */
  error?: string;
  /** Results of the resource left out as invalid (`error` is then `SOURCE_INVALID_RESPONSE`). */
  skipped?: number;
}

/** The upstream resources one request used, for `extensions.sources`. */
export class ProvenanceLog {
  private readonly entries = new Map<string, ProvenanceEntry>();

  /** Records a value's provenance. */
  used(resource: string, info: SourceInfo): void {
    this.entries.set(`${info.source} ${resource}`, {
      source: info.source,
      resource,
      fetchedAt: info.fetchedAt.toISOString(),
      stale: info.stale,
    });
  }

  /**
   * Records that `skipped` results of a resource that answered were refused as invalid (the
   * rest were used): `{ source, resource, fetchedAt, stale, error: SOURCE_INVALID_RESPONSE, skipped }`.
   */
  skipped(resource: string, info: SourceInfo, skipped: number): void {
    this.used(resource, info);
    const entry = this.entries.get(`${info.source} ${resource}`);
    if (entry) Object.assign(entry, { error: 'SOURCE_INVALID_RESPONSE', skipped });
  }

  /** Records a failure. */
  failed(source: SourceName, resource: string, error: SourceError | Error): void {
    const code = String(
      (error as SourceError).extensions?.code ??
        (error as SourceError).code ??
        'SOURCE_UNAVAILABLE',
    );
    this.entries.set(`${source} ${resource}`, { source, resource, error: code });
  }

  /** Entries in the order they were first recorded. */
  list(): ProvenanceEntry[] {
    return [...this.entries.values()];
  }
}

/** A news item with the provenance of the feed it came from. */
export interface SourcedNewsItem extends NewsItem {
  provenance: SourceInfo;
}

/**
 * The per-request face of the sources: the shared clients, the provenance log of this request,
 * and the news of this request (each feed fetched at most once). Documents and financials are
 * loaded with the request's loaders (`federalRegisterDocuments`, `companyFinancials`).
 */
export interface RequestSources {
  /** The Federal Register client; throws `SOURCE_NOT_CONFIGURED` when off. */
  federalRegister(): FederalRegisterClient;
  /** The shared clients (null where a source is off). */
  clients: Sources;
  /** Items of every configured feed, newest first (each feed fetched at most once). */
  newsItems(): Promise<SourcedNewsItem[]>;
  provenance: ProvenanceLog;
}

const notConfigured = (source: SourceName) =>
  sourceNotConfigured(
    source,
    source === 'sec-edgar'
      ? 'SEC EDGAR is not configured on this gateway: the operator must set CHIPGATE_SEC_USER_AGENT.'
      : source === 'news'
        ? 'No news feeds are configured on this gateway (CHIPGATE_NEWS_FEEDS).'
        : 'The Federal Register source is not configured on this gateway.',
  );

/** Fresh per-request loaders over the shared sources. */
export function forRequest(sources: Sources): RequestSources {
  const provenance = new ProvenanceLog();
  let news: Promise<SourcedNewsItem[]> | undefined;
  return {
    provenance,
    federalRegister() {
      if (!sources.federalRegister) throw notConfigured('federal-register');
      return sources.federalRegister;
    },
    clients: sources,
    newsItems() {
      news ??= (async () => {
        const client = sources.news;
        if (!client) throw notConfigured('news');
        const feeds = await Promise.all(
          client.feeds.map((url) =>
            client.feed(url).then(
              (feed) => {
                provenance.used(url, feed.info);
                return feed;
              },
              (error: Error) => {
                provenance.failed('news', url, error);
                return error;
              },
            ),
          ),
        );
        const ok = feeds.filter((feed): feed is Sourced<Feed> => !(feed instanceof Error));
        // Every feed failed: the field fails with the first error; some failed: the rest
        // answer, and `extensions.sources` names the failed feeds.
        if (ok.length === 0) throw feeds[0];
        const items = ok.flatMap((feed) =>
          feed.value.items.map((item) => ({ ...item, provenance: feed.info })),
        );
        return items.sort(
          (a, b) => b.publishedAt.getTime() - a.publishedAt.getTime() || a.url.localeCompare(b.url),
        );
      })();
      return news;
    },
  };
}

/**
 * Per request: Federal Register documents by number, batched into `documents/{n1},{n2}.json`
 * calls (null for a number the register does not know).
 */
export const federalRegisterDocuments = defineLoader<
  string,
  Sourced<FederalRegisterDocument | null>,
  { sources: RequestSources }
>({
  key: (number) => number,
  async batch(ctx, numbers) {
    const client = ctx.sources.clients.federalRegister;
    if (!client) return numbers.map(() => notConfigured('federal-register'));
    const results = await client.documents(numbers);
    return results.map((result, i) => {
      const resource = `documents/${numbers[i]}`;
      if (result instanceof Error)
        ctx.sources.provenance.failed('federal-register', resource, result);
      else ctx.sources.provenance.used(resource, result.info);
      return result;
    });
  },
});

/** Per request: SEC revenue series by unpadded CIK. */
export const companyFinancials = defineLoader<
  string,
  Sourced<CompanyFinancials>,
  { sources: RequestSources }
>({
  key: (cik) => cik,
  // SEC facts are per filer; batching only gathers the keys of one tick.
  maxBatchSize: 100,
  async batch(ctx, ciks) {
    const client = ctx.sources.clients.sec;
    if (!client) return ciks.map(() => notConfigured('sec-edgar'));
    const { provenance } = ctx.sources;
    return Promise.all(
      ciks.map(async (cik) => {
        const resource = `companyfacts/CIK${cik.padStart(10, '0')}`;
        try {
          const result = await client.financials(cik);
          if (result.value.skipped > 0) {
            provenance.skipped(resource, result.info, result.value.skipped);
          } else provenance.used(resource, result.info);
          return result;
        } catch (error) {
          provenance.failed('sec-edgar', resource, error as Error);
          return error as Error;
        }
      }),
    );
  },
});

/**
 * Adds `extensions.sources` to every response that used an external source: one
 * `ProvenanceEntry` per upstream resource (source, resource, fetchedAt, stale, or error).
 * With `@defer`/`@stream`, the last payload carries every entry of the operation (the merged
 * result then has them, which is what the response cache bounds its TTL by); subscription
 * events carry none.
 */
export function useSourceProvenance(): Plugin {
  return {
    onExecute({ args }) {
      const entriesOf = () =>
        (args.contextValue as { sources?: RequestSources }).sources?.provenance?.list() ?? [];
      return {
        onExecuteDone({ result, setResult }) {
          if (isAsyncIterable(result)) {
            return {
              onNext({ result: payload, setResult: setPayload }) {
                if ((payload as { hasNext?: boolean }).hasNext !== false) return;
                const entries = entriesOf();
                if (entries.length === 0) return;
                setPayload({ ...payload, extensions: { ...payload.extensions, sources: entries } });
              },
            };
          }
          const entries = entriesOf();
          if (entries.length === 0) return;
          setResult({ ...result, extensions: { ...result.extensions, sources: entries } });
          return undefined;
        },
      };
    },
  };
}
