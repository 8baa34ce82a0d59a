/**
 * News from the RSS 2.0 and Atom feeds the operator lists (`CHIPGATE_NEWS_FEEDS`), parsed with
 * fast-xml-parser from a body the toolkit fetched (so its deadline, size cap and conditional GET
 * with `ETag`/`Last-Modified` apply). A broken item (no title, no usable link or date) is
 * skipped, not the feed; a body that is neither RSS nor Atom is `SOURCE_INVALID_RESPONSE`.
 */
import { decodeHTML } from 'entities';
import { XMLParser } from 'fast-xml-parser';
import { z } from 'zod';
import { sourceInvalidResponse } from '../errors.js';
import type { Source, Sourced, SourcePolicy } from './http.js';

/** How calls to this upstream are made (feeds move between hosts, so redirects anywhere are followed). */
export const NEWS_POLICY: SourcePolicy = { label: 'The news feed', crossOriginRedirects: true };

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
  // Titles are read raw: feeds in the wild put unescaped HTML in them (`Nvidia <b>H200</b>`),
  // which the parser would otherwise split into child elements and lose the text of.
  stopNodes: ['*.item.title', '*.entry.title'],
});

/** Tags that separate words (inline tags such as <b>, <a>, <em> do not). */
const BLOCK_TAGS = new Set([
  'p',
  'br',
  'div',
  'li',
  'ul',
  'ol',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'tr',
  'td',
  'blockquote',
]);

/**
 * Plain text of an HTML fragment: tags removed (with the content of <script> and <style>),
 * character references decoded with the `entities` package (all of HTML's named entities),
 * whitespace collapsed. A numeric reference to no valid character becomes U+FFFD; nothing here
 * throws.
 *
 * A hand-written scan rather than regular expressions: feed text is untrusted, and patterns
 * such as `<script>[\s\S]*?</script>` cost quadratic time on thousands of unclosed tags,
 * which would block the process. Every character is looked at a bounded number of times.
 */
export function stripHtml(html: string): string {
  const lower = html.toLowerCase();
  let text = '';
  let at = 0;
  while (at < html.length) {
    const open = html.indexOf('<', at);
    if (open < 0) {
      text += html.slice(at);
      break;
    }
    text += html.slice(at, open);
    const close = html.indexOf('>', open + 1);
    // No '>' anywhere after: the rest is text, not a tag.
    if (close < 0) {
      text += html.slice(open);
      break;
    }
    const name = /^\/?([a-z][a-z0-9]*)/.exec(lower.slice(open + 1, Math.min(close, open + 20)));
    const tag = name?.[1] ?? '';
    const closing = lower[open + 1] === '/';
    if (!closing && (tag === 'script' || tag === 'style')) {
      const end = lower.indexOf(`</${tag}`, close + 1);
      // Unterminated: nothing after it is text.
      if (end < 0) break;
      const endClose = html.indexOf('>', end);
      at = endClose < 0 ? html.length : endClose + 1;
      text += ' ';
      continue;
    }
    if (BLOCK_TAGS.has(tag)) text += ' ';
    at = close + 1;
  }
  // Character references as HTML decodes them (every named entity; a numeric reference that
  // names no character, e.g. NUL, a lone surrogate or one beyond Unicode, becomes U+FFFD).
  return decodeHTML(text).replace(/\s+/g, ' ').trim();
}

/** The text with every `<![CDATA[...]]>` section unwrapped (an unterminated one runs to the end). */
function unwrapCdata(raw: string): string {
  let text = '';
  let at = 0;
  for (;;) {
    const start = raw.indexOf('<![CDATA[', at);
    if (start < 0) return text + raw.slice(at);
    text += raw.slice(at, start);
    const end = raw.indexOf(']]>', start + 9);
    if (end < 0) return text + raw.slice(start + 9);
    text += raw.slice(start + 9, end);
    at = end + 3;
  }
}

/** Text of an element that may carry attributes (`{ '#text': ..., '@_type': ... }`). */
function text(node: unknown): string | undefined {
  if (typeof node === 'string') return node;
  if (typeof node === 'number') return String(node);
  if (node && typeof node === 'object' && '#text' in node) return text(node['#text']);
  return undefined;
}

/**
 * Plain text of a title read raw (see `stopNodes`): CDATA unwrapped, real tags removed,
 * entities decoded, then tags that were escaped (`&lt;em&gt;`, Atom `type="html"`) removed.
 */
function titleText(raw: string): string {
  return stripHtml(stripHtml(unwrapCdata(raw)));
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

/**
 * The document cut after its `maxItems`-th `</item>` or `</entry>` and closed again, so that a
 * feed of tens of thousands of items costs the parser (which blocks the process) only the first
 * `maxItems`. Feeds list their newest items first.
 */
function firstItems(xml: string, maxItems: number): string {
  const closing = /<\/(item|entry)\s*>/g;
  let match: RegExpExecArray | null = null;
  for (let seen = 0; seen < maxItems; seen += 1) {
    match = closing.exec(xml);
    if (!match) return xml;
  }
  if (!match || !closing.exec(xml)) return xml;
  const end = match.index + match[0].length;
  return `${xml.slice(0, end)}${match[1] === 'item' ? '</channel></rss>' : '</feed>'}`;
}

/**
 * Parses an RSS 2.0 or Atom document. Relative links resolve against the channel's own `<link>`
 * (RSS) or alternate link (Atom) when it is absolute, else against `feedUrl`. Reads only the
 * first `maxItems` items (feeds list the newest first); of items sharing a URL the first is
 * kept; a broken item is skipped.
 */
export function parseFeed(xml: string, feedUrl: string, maxItems = 500): Feed | undefined {
  let document: Record<string, unknown>;
  try {
    document = parser.parse(firstItems(xml, maxItems), true) as Record<string, unknown>;
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
  const base = absolute(rss ? text(channelLinks(channel)[0]) : alternateHref(channel), feedUrl);
  const items: NewsItem[] = [];
  const urls = new Set<string>();
  let skipped = 0;
  for (const entry of entries.data) {
    let item: NewsItem | undefined;
    try {
      item = rss
        ? rssItem(entry, base ?? feedUrl, title)
        : atomEntry(entry, base ?? feedUrl, title);
    } catch {
      item = undefined;
    }
    if (item && !urls.has(item.url)) {
      urls.add(item.url);
      items.push(item);
    } else skipped += 1;
  }
  return { title, items, skipped };
}

function channelLinks(node: Record<string, unknown>): unknown[] {
  return (node.link as unknown[] | undefined) ?? [];
}

/** `href` of the alternate `<link>` of an Atom feed or entry (the first link when none is). */
function alternateHref(node: Record<string, unknown>): string | undefined {
  const links = channelLinks(node) as Record<string, unknown>[];
  const alternate =
    links.find((link) => (link['@_rel'] ?? 'alternate') === 'alternate') ?? links[0];
  return typeof alternate?.['@_href'] === 'string' ? alternate['@_href'] : undefined;
}

function rssItem(item: Record<string, unknown>, base: string, source: string) {
  const guid = item.guid as unknown;
  // A guid is a permalink unless it says isPermaLink="false" (RSS 2.0).
  const permalink =
    guid &&
    !(typeof guid === 'object' && (guid as Record<string, unknown>)['@_isPermaLink'] === 'false')
      ? text(guid)
      : undefined;
  return newsItem(
    text(item.title),
    absolute(text(channelLinks(item)[0]), base) ?? absolute(permalink, base),
    text(item.pubDate) ?? text(item['dc:date']),
    text(item.description) ?? text(item['content:encoded']),
    source,
  );
}

function atomEntry(entry: Record<string, unknown>, base: string, source: string) {
  return newsItem(
    text(entry.title),
    absolute(alternateHref(entry), base),
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
  const title = rawTitle ? titleText(rawTitle) : '';
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
    /** Items read per feed, the first (newest) ones (`CHIPGATE_NEWS_MAX_ITEMS`). */
    readonly maxItems = 500,
  ) {}

  /** One feed, cached per URL, refreshed with a conditional GET (a 304 keeps the items). */
  feed(url: string): Promise<Sourced<Feed>> {
    return this.source.cached(`feed:${url}`, async (validators) => {
      const answer = await this.source.get(url, validators ? { validators } : {});
      if (answer.status === 304) return 'not-modified';
      const feed = parseFeed(decodeFeed(answer.bytes, answer.charset), url, this.maxItems);
      if (!feed) {
        throw sourceInvalidResponse('news', `The news feed ${url} is neither RSS 2.0 nor Atom.`);
      }
      return { value: feed, validators: answer.validators };
    });
  }
}
