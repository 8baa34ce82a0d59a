/**
 * News feeds against the fixture upstream: encodings, feeds as found in the wild (bad character
 * references, oversized feeds, the item cap, double-escaped entities, guid permalinks,
 * duplicates, relative links) and the HTML-to-text scan of feed text.
 */
import { describe, expect, it } from 'vitest';
import { loadEnv } from '../src/env.js';
import { stripHtml } from '../src/sources/news.js';
import { appWith, upstream, useSourcesTestbed } from './helpers/sources.js';
import { upstreamSourcesConfig } from './helpers/upstream.js';

useSourcesTestbed();

describe('news feeds', () => {
  it('decodes a feed in the encoding its XML declaration names', async () => {
    const { execute } = appWith(
      upstreamSourcesConfig(upstream, { CHIPGATE_NEWS_FEEDS: `${upstream.url}/news/latin1.xml` }),
    );
    const result = await execute(/* GraphQL */ `{
      company(slug: "samsung") { news { title summary publishedAt source } }
    }`);
    expect(result.errors).toBeUndefined();
    expect(result.data?.company.news).toEqual([
      {
        title: 'Samsung liefert HBM3E für Nvidia - Qualifizierung abgeschlossen',
        summary: 'Größere Stückzahlen ab dem ersten Quartal.',
        publishedAt: '2025-12-19T09:00:00.000Z',
        source: 'Halbleiter-Nachrichten',
      },
    ]);
  });
});

/** An RSS 2.0 feed with these items (raw XML) under a channel linking to `channelLink`. */
const rss = (items: string, channelLink = 'https://wire.example.com/') =>
  `<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Wire</title><link>${channelLink}</link>${items}</channel></rss>`;

const rssEntry = (title: string, link: string, day: number) =>
  `<item><title>${title}</title><link>${link}</link><pubDate>${new Date(Date.UTC(2025, 11, day)).toUTCString()}</pubDate></item>`;

/** An app reading only the named extra feed of the fixture upstream. */
function feedApp(name: string, body: string | Buffer, vars: Record<string, string> = {}) {
  upstream.setFeed(name, body);
  return appWith(
    upstreamSourcesConfig(upstream, {
      CHIPGATE_NEWS_FEEDS: `${upstream.url}/news/${name}`,
      CHIPGATE_SOURCE_RETRIES: '0',
      ...vars,
    }),
  );
}

const NVIDIA_NEWS = `{ company(slug: "nvidia") { news(first: 50) { title url publishedAt } } }`;

describe('feeds in the wild', () => {
  it('an invalid numeric character reference becomes U+FFFD; the feed still answers', async () => {
    const { execute } = feedApp(
      'bad-reference.xml',
      rss(
        rssEntry('Nvidia &#99999999;', 'https://wire.example.com/a', 2) +
          rssEntry('Nvidia &#x110000; again', 'https://wire.example.com/b', 1),
      ),
    );
    const result = await execute(NVIDIA_NEWS);
    expect(result.errors).toBeUndefined();
    expect(result.data?.company.news.map((item: { title: string }) => item.title)).toEqual([
      'Nvidia \uFFFD',
      'Nvidia \uFFFD again',
    ]);
  });

  it('a feed larger than the news cap (5 MiB by default) is refused without parsing', async () => {
    expect(loadEnv({}).CHIPGATE_NEWS_MAX_BYTES).toBe(5_242_880);
    const item = rssEntry('Nvidia filler', 'https://wire.example.com/filler', 1);
    const { execute } = feedApp('huge.xml', rss(item.repeat(Math.ceil(5_300_000 / item.length))));
    const result = await execute(NVIDIA_NEWS);
    expect(result.data?.company.news).toBeNull();
    expect(result.errors?.[0]).toMatchObject({
      extensions: { code: 'SOURCE_INVALID_RESPONSE', source: 'news' },
    });
    expect(result.errors?.[0]?.message).toMatch(/more than 5242880 bytes/);
  });

  it('reads only the first CHIPGATE_NEWS_MAX_ITEMS items of a feed (500 by default)', async () => {
    expect(loadEnv({}).CHIPGATE_NEWS_MAX_ITEMS).toBe(500);
    const items = [5, 4, 3]
      .map((day) => rssEntry(`Nvidia day ${day}`, `https://wire.example.com/${day}`, day))
      .join('');
    // Past the cap the document is not even parsed: broken XML there does not matter.
    const { execute } = feedApp(
      'many.xml',
      rss(`${items}${rssEntry('Nvidia day 2', 'https://wire.example.com/2', 2)}<item><title>`),
      { CHIPGATE_NEWS_MAX_ITEMS: '3' },
    );
    const result = await execute(NVIDIA_NEWS);
    expect(result.errors).toBeUndefined();
    expect(result.data?.company.news.map((item: { title: string }) => item.title)).toEqual([
      'Nvidia day 5',
      'Nvidia day 4',
      'Nvidia day 3',
    ]);
  });

  it('decodes every HTML entity, also when the feed escaped it once more (&amp;rsquo;)', async () => {
    const { execute } = feedApp(
      'entities.xml',
      rss(
        rssEntry('Nvidia&amp;rsquo;s H200 &amp;mdash; approved', 'https://wire.example.com/e', 2) +
          rssEntry(
            'Nvidia &amp;hellip; &amp;eacute;t&amp;eacute; &amp;nbsp;!',
            'https://wire.example.com/f',
            1,
          ),
      ),
    );
    const result = await execute(NVIDIA_NEWS);
    expect(result.errors).toBeUndefined();
    expect(result.data?.company.news.map((item: { title: string }) => item.title)).toEqual([
      'Nvidia\u2019s H200 \u2014 approved',
      'Nvidia \u2026 \u00e9t\u00e9 !',
    ]);
  });

  it('guid permalinks, duplicates, HTML in titles and links relative to the channel', async () => {
    const date = (day: number) => new Date(Date.UTC(2025, 11, day)).toUTCString();
    const { execute } = feedApp(
      'wild.xml',
      rss(
        `<item><title>Nvidia <b>H200</b> &amp; more</title><link>2025/h200</link><pubDate>${date(5)}</pubDate></item>` +
          `<item><title>Nvidia guid only</title><guid>https://wire.example.com/guid</guid><pubDate>${date(4)}</pubDate></item>` +
          `<item><title>Nvidia opaque guid</title><guid isPermaLink="false">urn:x:1</guid><pubDate>${date(3)}</pubDate></item>` +
          `<item><title>Nvidia duplicate</title><link>https://wire.example.com/news/2025/h200</link><pubDate>${date(2)}</pubDate></item>`,
        'https://wire.example.com/news/',
      ),
    );
    const result = await execute(NVIDIA_NEWS);
    expect(result.errors).toBeUndefined();
    expect(result.data?.company.news).toEqual([
      {
        title: 'Nvidia H200 & more',
        url: 'https://wire.example.com/news/2025/h200',
        publishedAt: '2025-12-05T00:00:00.000Z',
      },
      {
        title: 'Nvidia guid only',
        url: 'https://wire.example.com/guid',
        publishedAt: '2025-12-04T00:00:00.000Z',
      },
    ]);
  });
});

describe('feed text', () => {
  it('turns HTML into text with a bounded scan: no quadratic patterns, invalid characters replaced', () => {
    expect(stripHtml('Nvidia <b>H200</b> &amp; more')).toBe('Nvidia H200 & more');
    expect(stripHtml('<p>One</p><p>Two</p>a<br/>b')).toBe('One Two a b');
    expect(stripHtml('before<script>var x = "<b>";</script>after')).toBe('before after');
    expect(stripHtml('1 < 2 and 3')).toBe('1 < 2 and 3');
    // NUL and lone surrogates would break strict JSON clients; beyond Unicode is no character.
    expect(stripHtml('x &#0; &#xD800; &#99999999; y')).toBe('x \uFFFD \uFFFD \uFFFD y');
    // Thousands of unclosed tags (a hostile or broken feed) are simply dropped.
    expect(stripHtml(`text${'<script>'.repeat(100_000)}`)).toBe('text');
    expect(stripHtml(`text ${'<style>x'.repeat(100_000)}`)).toBe('text');
  });
});
