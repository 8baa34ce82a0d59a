/**
 * One codec for global IDs and event cursors, and one node-type registry: the IDs both read
 * paths return are the bytes clients stored before (base64 of `Type:key`, as the relay plugin's
 * own default writes them), and the change feed names tables, which the gateway maps to the
 * types and global IDs it evicts.
 */
import { encodeGlobalID as relayDefaultEncode } from '@pothos/plugin-relay';
import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import {
  encodeEventCursor,
  encodeGlobalId,
  parseEventCursor,
  parseGlobalId,
} from '../src/codecs.js';
import { queryRows } from '../src/db/client.js';
import { evictionsFor, type TableChange } from '../src/pubsub/changes.js';
import { bothReadPaths, executeOn } from './helpers/gateway.js';

const both = bothReadPaths();

/** Every node type's IDs, as lists and a decision's history return them. */
const IDS = /* GraphQL */ `
  {
    companies(first: 3) { edges { node { id slug } } }
    chips(first: 3) { edges { node { id slug } } }
    policyDecisions(first: 3) { edges { node { id slug updates { id } } } }
    demandSignals(first: 3) { edges { node { id slug } } }
  }
`;

describe('global IDs', () => {
  it('are the bytes clients stored: fixed examples', () => {
    expect(encodeGlobalId('Company', 'nvidia')).toBe('Q29tcGFueTpudmlkaWE=');
    expect(encodeGlobalId('PolicyDecisionUpdate', 42)).toBe('UG9saWN5RGVjaXNpb25VcGRhdGU6NDI=');
    expect(parseGlobalId('Q29tcGFueTpudmlkaWE=')).toEqual({ typename: 'Company', key: 'nvidia' });
    expect(parseGlobalId('bm90IGFuIGlk')).toEqual({ typename: '', key: '' });
    expect(parseGlobalId('not base64!')).toBeUndefined();
    expect(encodeEventCursor(7)).toBe('RXZlbnQ6Nw==');
    expect(parseEventCursor('RXZlbnQ6Nw==')).toBe(7);
    expect(parseEventCursor(encodeGlobalId('Company', 'nvidia'))).toBeUndefined();
  });

  it.each(both.paths)('%s: every ID is base64 of Type:key, as before', async (_path, app) => {
    const { data, errors } = await executeOn(app(), IDS);
    expect(errors).toBeUndefined();
    const rows = await queryRows<{ id: string }>(
      both.gateway.database.db,
      sql`select id::text as id from policy_decision_updates`,
    );
    const updateIds = new Set(rows.map((row) => row.id));
    const seen: [string, string, string][] = [];
    for (const [field, type] of [
      ['companies', 'Company'],
      ['chips', 'Chip'],
      ['policyDecisions', 'PolicyDecision'],
      ['demandSignals', 'DemandSignal'],
    ] as const) {
      for (const { node } of data[field].edges) {
        seen.push([type, node.slug, node.id]);
        for (const update of node.updates ?? []) {
          const key = Buffer.from(update.id, 'base64').toString('utf8').split(':')[1] ?? '';
          expect(updateIds.has(key)).toBe(true);
          seen.push(['PolicyDecisionUpdate', key, update.id]);
        }
      }
    }
    expect(new Set(seen.map(([type]) => type)).size).toBe(5);
    for (const [type, key, id] of seen) {
      expect(id).toBe(Buffer.from(`${type}:${key}`, 'utf8').toString('base64'));
      expect(id).toBe(relayDefaultEncode(type, key));
    }
  });
});

describe('the change feed', () => {
  it('names tables; the gateway maps them to types and global IDs', async () => {
    const heard: TableChange[] = [];
    const stop = both.gateway.events.onChange((change) => {
      if (!('reset' in change)) heard.push(change);
    });
    try {
      await both.gateway.database.db.execute(sql`update chips set name = name where slug = 'h200'`);
      await both.gateway.events.fence();
    } finally {
      stop();
    }
    expect(heard).toHaveLength(1);
    const [change] = heard as [TableChange];
    expect(change).toMatchObject({ table: 'chips', op: 'UPDATE' });
    expect(Object.keys(change.keys ?? {}).sort()).toEqual(['chips', 'companies']);
    expect(change.keys?.chips).toEqual(['h200']);
    expect(change.keys?.companies).toContain('nvidia');
    const evicted = evictionsFor(change);
    expect(evicted).toContainEqual({ typename: 'Chip', id: encodeGlobalId('Chip', 'h200') });
    expect(evicted).toContainEqual({
      typename: 'Company',
      id: encodeGlobalId('Company', 'nvidia'),
    });
    expect(evicted).toContainEqual({ typename: 'ChipConnection' });
    expect(evicted).toContainEqual({ typename: 'Query.nodes' });
    expect(evicted.some((entry) => entry.typename === 'chips')).toBe(false);
  });

  it('maps a status change to the update, its decision and their lists', () => {
    const evicted = evictionsFor({
      table: 'policy_decision_updates',
      op: 'INSERT',
      keys: { policy_decision_updates: ['12'], policy_decisions: ['some-decision'] },
    });
    expect(evicted).toEqual(
      expect.arrayContaining([
        { typename: 'PolicyDecisionUpdate', id: encodeGlobalId('PolicyDecisionUpdate', '12') },
        { typename: 'PolicyDecision', id: encodeGlobalId('PolicyDecision', 'some-decision') },
        { typename: 'TimelineConnection' },
      ]),
    );
    expect(evictionsFor({ table: 'policy_decision_updates', op: 'DELETE', all: true })).toEqual(
      expect.arrayContaining([{ typename: 'PolicyDecisionUpdate' }, { typename: 'ExportStatus' }]),
    );
  });
});
