/**
 * The partner dashboard: for a chosen chip, its export status over time (chart.ts), the
 * decisions behind it with their sources arriving in a deferred payload, and a live feed of
 * their status changes (feed.ts). Configured by `config.json` next to the page (see
 * client.ts: gateway URL, read key, first chip).
 */
import type { Client } from '@urql/core';
import type { Client as SseClient } from 'graphql-sse';
import { type ChartPoint, exportStatusChart } from './chart.js';
import { type DashboardConfig, feedClient, queryClient } from './client.js';
import { documents } from './documents.js';
import { type FeedState, type FeedUpdate, startFeed } from './feed.js';

/** A status change shown in the feed (from the query's history or the live feed). */
type FeedItem = Omit<FeedUpdate, 'eventCursor'> & { live: boolean };

interface DecisionNode {
  slug: string;
  title: string;
  authority: string;
  jurisdiction: string;
  status: string;
  announcedOn: string;
  effectiveOn: string | null;
  updates: {
    id: string;
    fromStatus: string | null;
    toStatus: string;
    note: string | null;
    occurredAt: string;
  }[];
  // The deferred fragment: absent until its payload arrives.
  sourceUrl?: string | null;
  confidence?: string;
  federalRegisterCitation?: string | null;
  federalRegisterDocument?: {
    documentNumber: string;
    title: string;
    htmlUrl: string;
    publicationDate: string;
  } | null;
}

interface ChipData {
  chip: {
    slug: string;
    name: string;
    designer: { name: string };
    exportStatus: {
      asOf: string;
      exportEffect: string | null;
      importEffect: string | null;
      exportDecision: { slug: string; title: string } | null;
      importDecision: { slug: string; title: string } | null;
    };
    policyDecisions: {
      totalCount: number;
      edges: { effect: string; node: DecisionNode }[];
    };
  } | null;
}

interface ChipsData {
  chips: { edges: { node: { slug: string; name: string; designer: { name: string } } }[] };
}

const byId = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

/** An element with text content (never parsed as markup) and attributes. */
function el(
  tag: string,
  text?: string,
  attributes: Record<string, string> = {},
  ...children: Node[]
): HTMLElement {
  const element = document.createElement(tag);
  if (text !== undefined) element.textContent = text;
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  element.append(...children);
  return element;
}

function showError(message: string): void {
  const errors = byId<HTMLParagraphElement>('errors');
  errors.hidden = false;
  errors.textContent = message;
}

/** A GraphQL error as urql hands it over. */
interface GraphQLErrorLike {
  message: string;
  path?: readonly (string | number)[] | undefined;
  extensions?: Record<string, unknown>;
}

/** The message of an urql error, with each GraphQL error's code. */
function describeError(error: {
  message: string;
  graphQLErrors: readonly GraphQLErrorLike[];
}): string {
  if (error.graphQLErrors.length === 0) return error.message;
  return error.graphQLErrors
    .map((e) => `${String(e.extensions?.code ?? 'ERROR')}: ${e.message}`)
    .join('; ');
}

/**
 * Splits a chip read's errors: an external source's (it has `extensions.source`; only its field
 * is null) by the index of the decision edge it belongs to, shown on that decision's line; the
 * rest, shown above the page.
 */
function splitErrors(errors: readonly GraphQLErrorLike[]) {
  const bySource = new Map<number, string>();
  const others: GraphQLErrorLike[] = [];
  for (const error of errors) {
    const [chip, list, edges, index] = error.path ?? [];
    const ours = chip === 'chip' && list === 'policyDecisions' && edges === 'edges';
    if (error.extensions?.source && ours && typeof index === 'number') {
      bySource.set(index, String(error.extensions.code ?? 'SOURCE_UNAVAILABLE'));
    } else {
      others.push(error);
    }
  }
  return { bySource, others };
}

const words = (value: string | null | undefined) => (value ?? 'none recorded').replace(/_/g, ' ');

/** The feed's items, newest change first; re-rendered whole (it holds at most a few hundred). */
class Feed {
  private readonly items = new Map<string, FeedItem>();

  add(item: FeedItem): void {
    const known = this.items.get(item.id);
    // An update read by the query and delivered live too is shown once.
    this.items.set(item.id, known ? { ...item, live: known.live || item.live } : item);
    this.render();
  }

  clear(): void {
    this.items.clear();
    this.render();
  }

  private render(): void {
    const sorted = [...this.items.values()].sort(
      (a, b) => b.occurredAt.localeCompare(a.occurredAt) || b.id.localeCompare(a.id),
    );
    byId('feed').replaceChildren(
      ...sorted.map((item) =>
        el(
          'li',
          undefined,
          {
            'data-update-id': item.id,
            'data-decision': item.decision.slug,
            'data-to-status': item.toStatus,
            'data-live': String(item.live),
          },
          el('div', `${item.decision.title}`),
          el(
            'div',
            `${item.occurredAt.slice(0, 10)} · ${item.decision.jurisdiction} · ${words(
              item.fromStatus,
            )} → ${words(item.toStatus)}${item.note ? ` · ${item.note}` : ''}`,
            { class: 'meta' },
          ),
        ),
      ),
    );
  }
}

function setFeedState(state: FeedState): void {
  const label = byId('feed-state');
  label.dataset.state = state.state;
  if (state.state === 'live') label.dataset.resumedAfter = state.resumedAfter ?? '';
  label.textContent =
    state.state === 'live'
      ? state.resumedAfter
        ? 'live (resumed)'
        : 'live'
      : state.state === 'reconnecting'
        ? 'reconnecting…'
        : state.state === 'stopped'
          ? `stopped: ${state.reason}`
          : 'connecting…';
}

function renderSources(node: DecisionNode, sourceError: string | undefined): HTMLElement {
  if (!('confidence' in node)) {
    return el('div', 'sources loading…', { class: 'sources', 'data-state': 'loading' });
  }
  const box = el('div', undefined, { class: 'sources', 'data-state': 'loaded' });
  box.append(el('span', `${words(node.confidence)} · `));
  if (node.sourceUrl) box.append(el('a', 'source', { href: node.sourceUrl, rel: 'noreferrer' }));
  else box.append(el('span', 'no source recorded'));
  const document_ = node.federalRegisterDocument;
  if (document_) {
    box.append(
      el('span', ' · Federal Register: '),
      el('a', document_.title, {
        href: document_.htmlUrl,
        rel: 'noreferrer',
        'data-document-number': document_.documentNumber,
      }),
      el('span', ` (${document_.publicationDate})`),
    );
  } else if (node.federalRegisterCitation) {
    box.append(el('span', ` · ${node.federalRegisterCitation}`));
  }
  if (sourceError) {
    box.append(
      el('span', ` · Federal Register unavailable (${sourceError})`, {
        class: 'source-error',
        'data-code': sourceError,
      }),
    );
  }
  return box;
}

function renderChip(
  data: NonNullable<ChipData['chip']>,
  sourceErrors: ReadonlyMap<number, string>,
): void {
  const status = data.exportStatus;
  byId('status').replaceChildren(
    el('span', `${data.name} (${data.designer.name}), ${status.asOf}: U.S. export `),
    el('span', words(status.exportEffect), {
      class: 'effect',
      'data-side': 'US',
      title: status.exportDecision?.title ?? 'no U.S. decision recorded',
    }),
    el('span', ', Chinese import '),
    el('span', words(status.importEffect), {
      class: 'effect',
      'data-side': 'CN',
      title: status.importDecision?.title ?? 'no Chinese decision recorded',
    }),
  );
  const points: ChartPoint[] = data.policyDecisions.edges.map(({ effect, node }) => ({
    slug: node.slug,
    title: node.title,
    jurisdiction: node.jurisdiction,
    announcedOn: node.announcedOn,
    effect,
  }));
  const { totalCount, edges } = data.policyDecisions;
  byId('chart').replaceChildren(
    exportStatusChart(points),
    ...(totalCount > edges.length
      ? [el('p', `The ${edges.length} latest of ${totalCount} decisions.`)]
      : []),
  );
  byId('decisions').replaceChildren(
    ...data.policyDecisions.edges.map(({ effect, node }, index) =>
      el(
        'li',
        undefined,
        { 'data-slug': node.slug, 'data-status': node.status },
        el('div', node.title),
        el(
          'div',
          `${node.announcedOn}${node.effectiveOn ? ` (effective ${node.effectiveOn})` : ''} · ${
            node.authority
          } (${node.jurisdiction}) · effect ${words(effect)} · ${words(node.status)}`,
          { class: 'meta' },
        ),
        renderSources(node, sourceErrors.get(index)),
      ),
    ),
  );
}

/**
 * Shows one chip: opens its feed, then reads it (so no change falls between the two), and
 * reads it again shortly after live changes (a status change can move today's status).
 */
function showChip(client: Client, sse: SseClient, slug: string, feed: Feed): { stop: () => void } {
  feed.clear();
  document.body.dataset.loaded = 'no';
  let query: { unsubscribe: () => void } | undefined;
  let read = false;
  let stopped = false;
  let refresh: ReturnType<typeof setTimeout> | undefined;
  const readChip = () => {
    if (stopped) return;
    read = true;
    query?.unsubscribe();
    query = client.query<ChipData>(documents.DashboardChip.text, { slug }).subscribe((result) => {
      const { bySource, others } = splitErrors(result.error?.graphQLErrors ?? []);
      if (result.error?.networkError || others.length > 0) {
        const message = result.error?.message ?? '';
        showError(describeError({ message, graphQLErrors: others }));
      } else {
        // A read that failed meanwhile (the gateway restarting) is behind us.
        byId('errors').hidden = true;
      }
      const chip = result.data?.chip;
      if (result.data && !chip) showError(`No chip "${slug}".`);
      if (!chip) return;
      renderChip(chip, bySource);
      for (const { node } of chip.policyDecisions.edges) {
        for (const update of node.updates) {
          feed.add({
            ...update,
            decision: { slug: node.slug, title: node.title, jurisdiction: node.jurisdiction },
            live: false,
          });
        }
      }
      // "partial" until the deferred sources arrived, then "all".
      document.body.dataset.loaded = result.hasNext ? 'partial' : 'all';
    });
  };
  const stopFeed = startFeed({
    client: sse,
    chip: slug,
    onUpdate(update) {
      feed.add({ ...update, live: true });
      // One read for a burst of changes.
      clearTimeout(refresh);
      refresh = setTimeout(readChip, 300);
    },
    onState(state) {
      setFeedState(state);
      if (state.state !== 'connecting' && !read) readChip();
    },
  });
  return {
    stop() {
      stopped = true;
      clearTimeout(refresh);
      stopFeed();
      query?.unsubscribe();
    },
  };
}

async function main(): Promise<void> {
  const response = await fetch('./config.json');
  if (!response.ok) {
    showError('config.json is missing next to the page: { "gateway": "...", "key": "..." }.');
    return;
  }
  const config = (await response.json()) as DashboardConfig;
  const client = queryClient(config);
  const sse = feedClient(config);
  const feed = new Feed();
  const params = new URLSearchParams(location.search);
  const first = params.get('chip') ?? config.chip ?? 'h200';

  const select = byId<HTMLSelectElement>('chip');
  const chips = await client.query<ChipsData>(documents.DashboardChips.text, {}).toPromise();
  if (chips.error) showError(describeError(chips.error));
  for (const { node } of chips.data?.chips.edges ?? []) {
    select.append(el('option', `${node.name} (${node.designer.name})`, { value: node.slug }));
  }
  select.value = first;

  let shown = showChip(client, sse, first, feed);
  select.addEventListener('change', () => {
    shown.stop();
    const url = new URL(location.href);
    url.searchParams.set('chip', select.value);
    history.replaceState(null, '', url);
    shown = showChip(client, sse, select.value, feed);
  });
}

main().catch((error: unknown) => showError(error instanceof Error ? error.message : String(error)));
