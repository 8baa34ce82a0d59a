/**
 * `Query.viewer`: the calling API key, its limits and what it used this minute, so a partner
 * can see its own budget. Null for anonymous callers. Source: the `api_keys` row and the
 * gateway's limit counters (shared across instances when they share Redis).
 */

import type { EffectiveLimits, Usage } from '../access/index.js';
import { builder } from '../builder.js';
import type { Context } from '../context.js';
import { findApiKeyDates } from '../db/api-keys.js';
import { apiKeyScope, type ApiKeyScope as Scope } from '../db/schema.js';

/** What `Viewer` resolves from: the key on the request. */
interface ViewerValue {
  id: number;
  name: string;
  scopes: Scope[];
}

const SCOPE_DESCRIPTIONS: Record<Scope, string> = {
  read: 'May read (reads are open to everyone; a read key identifies the caller for limits).',
  write: 'May call mutations.',
  metrics: 'May scrape the Prometheus metrics at `GET /metrics` on the main port.',
};

/** The scopes of an API key, one value per scope the database knows. */
export const ApiKeyScope = builder.enumType('ApiKeyScope', {
  description: 'What an API key may do.',
  values: Object.fromEntries(
    apiKeyScope.enumValues.map((scope) => [
      scope.toUpperCase(),
      { value: scope, description: SCOPE_DESCRIPTIONS[scope] },
    ]),
  ),
});

/** The key with its dates. */
interface KeyInfo extends ViewerValue {
  createdAt: Date;
  lastUsedAt: Date | null;
}

const ApiKeyInfo = builder.objectRef<KeyInfo>('ApiKeyInfo').implement({
  description: 'The API key the request presented (never the key itself or its hash).',
  fields: (t) => ({
    id: t.id({
      description: 'The key\'s id, as `npm run chipgate -- keys list` shows it (e.g. "3").',
      resolve: (key) => String(key.id),
    }),
    name: t.exposeString('name', { description: 'The name given when the key was created.' }),
    scopes: t.field({
      type: [ApiKeyScope],
      description: 'What the key may do.',
      resolve: (key) => key.scopes as never,
    }),
    createdAt: t.expose('createdAt', {
      type: 'DateTime',
      description: 'When the key was created.',
    }),
    lastUsedAt: t.expose('lastUsedAt', {
      type: 'DateTime',
      nullable: true,
      description:
        'When the key was last used (recorded at most once a minute, so it may lag by a minute).',
    }),
  }),
});

const ApiKeyLimits = builder.objectRef<EffectiveLimits>('ApiKeyLimits').implement({
  description:
    "The limits that apply to the key: its own where set, else the gateway's defaults for keys. " +
    'Over a limit, requests get HTTP 429 with `extensions.code = "RATE_LIMITED"`.',
  fields: (t) => ({
    requestsPerMinute: t.exposeInt('requestsPerMinute', {
      description:
        'Requests per minute (each HTTP request and each WebSocket operation counts one).',
    }),
    costPerMinute: t.exposeInt('costPerMinute', {
      description:
        'Query cost per minute: the sum of the costs of the operations run (each field costs 1, ' +
        'a connection multiplies its selection by its page size).',
    }),
    maxSubscriptions: t.exposeInt('maxSubscriptions', {
      description: 'Subscriptions the key may hold open at once, over SSE and WebSocket together.',
    }),
    persistedOnly: t.exposeBoolean('persistedOnly', {
      description: 'True when the key may run registered trusted documents only (no query text).',
    }),
  }),
});

const ApiKeyUsage = builder.objectRef<Usage>('ApiKeyUsage').implement({
  description:
    'What the key used in the current one-minute window (across all gateway instances when ' +
    'they share Redis), this request included.',
  fields: (t) => ({
    windowStart: t.expose('windowStart', {
      type: 'DateTime',
      description: 'Start of the window; the budget is whole again one minute later.',
    }),
    requests: t.exposeInt('requests', { description: 'Requests counted in this window.' }),
    cost: t.exposeInt('cost', { description: 'Query cost spent in this window.' }),
    activeSubscriptions: t.exposeInt('activeSubscriptions', {
      description: 'Subscriptions open now.',
    }),
  }),
});

const unavailable = () => new Error('partner access is not configured on this gateway');

const Viewer = builder.objectRef<ViewerValue>('Viewer').implement({
  description: 'The API key making the request, its limits and its usage.',
  fields: (t) => ({
    key: t.field({
      type: ApiKeyInfo,
      description: 'The key: id, name, scopes and dates.',
      resolve: async (key, _args, ctx) => {
        const dates = await findApiKeyDates(ctx.db, key.id);
        return {
          ...key,
          createdAt: dates?.createdAt ?? new Date(0),
          lastUsedAt: dates?.lastUsedAt ?? null,
        };
      },
    }),
    limits: t.field({
      type: ApiKeyLimits,
      description: 'The limits that apply to the key.',
      resolve: (_key, _args, ctx: Context) => {
        if (!ctx.access) throw unavailable();
        return ctx.access.limitsOf(ctx.viewer);
      },
    }),
    usage: t.field({
      type: ApiKeyUsage,
      description: 'What the key used in the current minute.',
      resolve: (_key, _args, ctx: Context) => {
        if (!ctx.access || !ctx.subject) throw unavailable();
        return ctx.access.usageOf(ctx.subject);
      },
    }),
  }),
});

builder.queryField('viewer', (t) =>
  t.field({
    type: Viewer,
    nullable: true,
    description:
      'The API key making this request (`Authorization: Bearer <key>`), its limits and its ' +
      'usage this minute; null for anonymous callers.',
    resolve: (_root, _args, ctx) =>
      ctx.viewer.kind === 'apiKey'
        ? { id: ctx.viewer.id, name: ctx.viewer.name, scopes: ctx.viewer.scopes }
        : null,
  }),
);
