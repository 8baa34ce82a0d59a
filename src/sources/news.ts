/**
 * News from the RSS 2.0 and Atom feeds the operator lists (`CHIPGATE_NEWS_FEEDS`), parsed with
 * fast-xml-parser from a body the toolkit fetched (so its deadline, size cap and conditional GET
 * with `ETag`/`Last-Modified` apply). A broken item (no title, no usable link or date) is
 * skipped, not the feed; a body that is neither RSS nor Atom is `SOURCE_INVALID_RESPONSE`.
 */
import { XMLParser } from 'fast-xml-parser';
import { z } from 'zod';
import { sourceInvalidResponse } from '../errors.js';
import type { Source, Sourced } from './http.js';

/** One news item. */
export interface NewsItem {
  /** Headline, HTML stripped. */
  title: string;
  /** Absolute link to the article. */
  url: string;
  /** `pubDate` (RSS), `published` or else `updated` (Atom). */
  publishedAt: Date;
  /** The feed's title, e.g. `Reuters: Technology`. */
  source: string;
  /** Description or summary as plain text (HTML stripped), null when the item has none. */
  summary: string | null;
}

/** One parsed feed. */
export interface Feed {
  title: string;
  items: NewsItem[];
  /** Items the parser skipped as broken. */
  skipped: number;
}

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  textNodeName: '#text',
  // RSS/Atom never need entity expansion beyond the XML built-ins and numeric references.
  processEntities: true,
  htmlEntities: true,
  isArray: (name) => name === 'item' || name === 'entry' || name === 'link',
  parseTagValue: false,
  trimValues: true,
});

const ENTITIES: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: ' ',
};

/** Plain text of an HTML fragment: tags removed, entities decoded, whitespace collapsed. */
export function stripHtml(html: string): string {
  return (
    html
      .replace(/<(script|style)[^>]*>[\s\S]*?<\/\1>/gi, ' ')
      // Block-level tags separate words; inline tags (<b>, <a>, <em>) do not.
      .replace(/<\/?(p|br|div|li|ul|ol|h[1-6]|tr|td|blockquote)\b[^>]*>/gi, ' ')
      .replace(/<[^>]*>/g, '')
      .replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (entity, name: string) => {
        if (name.startsWith('#x') || name.startsWith('#X')) {
          return String.fromCodePoint(Number.parseInt(name.slice(2), 16));
        }
        if (name.startsWith('#')) return String.fromCodePoint(Number(name.slice(1)));
        return ENTITIES[name.toLowerCase()] ?? entity;
      })
      .replace(/\s+/g, ' ')
      .trim()
  );
}

/** Text of an element that may carry attributes (`{ '#text': ..., '@_type': ... }`). */
function text(node: unknown): string | undefined {
  if (typeof node === 'string') return node;
  if (typeof node === 'number') return String(node);
  if (node && typeof node === 'object' && '#text' in node) return text(node['#text']);
  return undefined;
}

function parseDate(value: string | undefined): Date | undefined {
  if (!value) return undefined;
  const time = Date.parse(value);
  return Number.isNaN(time) ? undefined : new Date(time);
}

function absolute(link: string | undefined, base: string): string | undefined {
  if (!link) return undefined;
  try {
    const url = new URL(link.trim(), base);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : undefined;
  } catch {
    return undefined;
  }
}

const nodeList = z.array(z.record(z.string(), z.unknown()));

/** Parses an RSS 2.0 or Atom document; `feedUrl` resolves relative links. */
export function parseFeed(xml: string, feedUrl: string): Feed | undefined {
  let document: Record<string, unknown>;
  try {
    document = parser.parse(xml, true) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const rss = (document.rss as { channel?: Record<string, unknown> } | undefined)?.channel;
  const atom = document.feed as Record<string, unknown> | undefined;
  if (!rss && !atom) return undefined;
  const channel = (rss ?? atom) as Record<string, unknown>;
  const title = stripHtml(text(channel.title) ?? '') || new URL(feedUrl).host;
  const entries = nodeList.safeParse(rss ? (channel.item ?? []) : (channel.entry ?? []));
  if (!entries.success) return undefined;
  const items: NewsItem[] = [];
  let skipped = 0;
  for (const entry of entries.data) {
    const item = rss ? rssItem(entry, feedUrl, title) : atomEntry(entry, feedUrl, title);
    if (item) items.push(item);
    else skipped += 1;
  }
  return { title, items, skipped };
}

function rssItem(item: Record<string, unknown>, base: string, source: string) {
  const links = (item.link as unknown[] | undefined) ?? [];
  const guid = item.guid as unknown;
  const permalink =
    guid &&
    typeof guid === 'object' &&
    (guid as Record<string, unknown>)['@_isPermaLink'] !== 'false'
      ? text(guid)
      : undefined;
  return newsItem(
    text(item.title),
    absolute(text(links[0]), base) ?? absolute(permalink, base),
    text(item.pubDate) ?? text(item['dc:date']),
    text(item.description) ?? text(item['content:encoded']),
    source,
  );
}

function atomEntry(entry: Record<string, unknown>, base: string, source: string) {
  const links = ((entry.link as unknown[] | undefined) ?? []) as Record<string, unknown>[];
  const alternate =
    links.find((link) => (link['@_rel'] ?? 'alternate') === 'alternate') ?? links[0];
  const href = typeof alternate?.['@_href'] === 'string' ? alternate['@_href'] : undefined;
  return newsItem(
    text(entry.title),
    absolute(href, base),
    text(entry.published) ?? text(entry.updated),
    text(entry.summary) ?? text(entry.content),
    source,
  );
}

function newsItem(
  rawTitle: string | undefined,
  url: string | undefined,
  date: string | undefined,
  rawSummary: string | undefined,
  source: string,
): NewsItem | undefined {
  const title = rawTitle ? stripHtml(rawTitle) : '';
  const publishedAt = parseDate(date);
  if (!title || !url || !publishedAt) return undefined;
  const summary = rawSummary ? stripHtml(rawSummary) : '';
  return { title, url, publishedAt, source, summary: summary || null };
}

/**
 * Decodes a feed: the encoding of the XML declaration (`<?xml ... encoding="ISO-8859-1"?>`),
 * else the HTTP charset, else UTF-8. An encoding the runtime does not know falls back to UTF-8.
 */
export function decodeFeed(bytes: Buffer, charset?: string): string {
  const head = bytes.subarray(0, 200).toString('latin1');
  const declared = /^\s*<\?xml[^>]*encoding=["']([\w.:-]+)["']/i.exec(head)?.[1];
  const encoding = (declared ?? charset ?? 'utf-8').toLowerCase();
  try {
    return new TextDecoder(encoding).decode(bytes);
  } catch {
    return new TextDecoder('utf-8').decode(bytes);
  }
}

/** Client of the configured feeds over a `Source` (deadline, retries, breaker, cache). */
export class NewsClient {
  constructor(
    readonly source: Source,
    readonly feeds: readonly string[],
  ) {}

  /** One feed, cached per URL, refreshed with a conditional GET (a 304 keeps the items). */
  feed(url: string): Promise<Sourced<Feed>> {
    return this.source.cached(`feed:${url}`, async (validators) => {
      const answer = await this.source.get(url, validators ? { validators } : {});
      if (answer.status === 304) return 'not-modified';
      const feed = parseFeed(decodeFeed(answer.bytes, answer.charset), url);
      if (!feed) {
        throw sourceInvalidResponse('news', `The news feed ${url} is neither RSS 2.0 nor Atom.`);
      }
      return { value: feed, validators: answer.validators };
    });
  }
}
