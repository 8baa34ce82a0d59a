/**
 * `NewsItem`: items of the RSS 2.0 / Atom feeds the operator configures
 * (`CHIPGATE_NEWS_FEEDS`), matched to companies and chips by name and aliases, as
 * `Company.news` and `Chip.news`.
 * Source: the configured feeds, cached and refreshed with conditional GETs (see `SourceInfo`).
 */

import { builder } from '../builder.js';
import type { Context } from '../context.js';
import type { Listing } from '../db/schema.js';
import { BadUserInputError } from '../errors.js';
import { resolvedAround } from '../plan/metadata.js';
import { aliasMatcher, chipAliases, companyAliases } from '../sources/aliases.js';
import type { SourcedNewsItem } from '../sources/index.js';
import { Chip } from './chip.js';
import { Company } from './company.js';
import { SourceInfo } from './source-info.js';

/** Most items `news(first:)` returns. */
export const MAX_NEWS_ITEMS = 50;
const DEFAULT_NEWS_ITEMS = 10;

/** `NewsItem { title url publishedAt source summary provenance }`: one feed item. */
export const NewsItem = builder.objectRef<SourcedNewsItem>('NewsItem').implement({
  description:
    'A news item from one of the feeds this gateway follows that names the company or chip ' +
    '(its name, ticker or a known alias, whole words, any case). Leads, not curated facts.',
  fields: (t) => ({
    title: t.exposeString('title', { description: 'Headline (HTML removed).' }),
    url: t.expose('url', { type: 'URL', description: 'Link to the article.' }),
    publishedAt: t.expose('publishedAt', {
      type: 'DateTime',
      description:
        'Publication time as the feed gives it (RSS `pubDate`, Atom `published`/`updated`).',
    }),
    source: t.exposeString('source', {
      description: "Title of the feed it came from, e.g. the publisher's feed name.",
    }),
    summary: t.exposeString('summary', {
      nullable: true,
      description: "The feed's description of the item as plain text (HTML removed).",
    }),
    provenance: t.expose('provenance', {
      type: SourceInfo,
      description: 'Provenance of the feed: source `news`, when it was fetched, and whether stale.',
    }),
  }),
});

const FIRST_DESCRIPTION = `How many items, newest first: 0 to ${MAX_NEWS_ITEMS}, default ${DEFAULT_NEWS_ITEMS}.`;

function newsLimit(first: number | null | undefined): number {
  const limit = first ?? DEFAULT_NEWS_ITEMS;
  if (limit < 0 || limit > MAX_NEWS_ITEMS) {
    throw new BadUserInputError(
      `Argument "first" must be between 0 and ${MAX_NEWS_ITEMS}, got ${limit}.`,
    );
  }
  return limit;
}

function matching(items: SourcedNewsItem[], aliases: string[], limit: number) {
  const matcher = aliasMatcher(aliases);
  return items
    .filter(
      (item) => matcher.test(item.title) || (item.summary != null && matcher.test(item.summary)),
    )
    .slice(0, limit);
}

const NEWS_FAILURE =
  'Null with an error `SOURCE_UNAVAILABLE` / `SOURCE_INVALID_RESPONSE` (`extensions.source: ' +
  '"news"`) when every feed fails with nothing cached, or `SOURCE_NOT_CONFIGURED` when no feeds ' +
  'are configured; when only some feeds fail, the others answer and `extensions.sources` names ' +
  'the failed ones.';

builder.drizzleObjectField(Company, 'news', (t) =>
  t.field({
    type: [NewsItem],
    nullable: true,
    description: `News items naming this company (name, ticker or alias), newest first. ${NEWS_FAILURE}`,
    args: { first: t.arg.int({ description: FIRST_DESCRIPTION }) },
    complexity: (args) => ({ field: 1, multiplier: newsLimit(args.first) }),
    ...resolvedAround(
      'the news feeds (an external source)',
      ['slug', 'name', 'listings'],
      async (
        company: { slug: string; name: string; listings: Listing[] },
        args: { first?: number | null },
        ctx: Context,
      ) => matching(await ctx.sources.newsItems(), companyAliases(company), newsLimit(args.first)),
    ),
  }),
);

builder.drizzleObjectField(Chip, 'news', (t) =>
  t.field({
    type: [NewsItem],
    nullable: true,
    description: `News items naming this chip (name, model number or alias), newest first. ${NEWS_FAILURE}`,
    args: { first: t.arg.int({ description: FIRST_DESCRIPTION }) },
    complexity: (args) => ({ field: 1, multiplier: newsLimit(args.first) }),
    ...resolvedAround(
      'the news feeds (an external source)',
      ['slug', 'name'],
      async (chip: { slug: string; name: string }, args: { first?: number | null }, ctx: Context) =>
        matching(await ctx.sources.newsItems(), chipAliases(chip), newsLimit(args.first)),
    ),
  }),
);
