/**
 * Who may introspect when `CHIPGATE_INTROSPECTION` is unset, over a real socket: everyone on a
 * gateway listening on loopback only (`npm start`'s 127.0.0.1, so GraphiQL shows docs and
 * autocompletion without a key); callers with an API key only on a gateway listening on any
 * other address. An explicit setting wins either way. The gateways run with `npm start`'s
 * `NODE_ENV=production`, which no longer decides it. (What `keys` hides: introspection.test.ts.)
 */
import { buildClientSchema, getIntrospectionQuery, type IntrospectionQuery } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { introspectionOf, isLoopbackHost, loadEnv } from '../src/env.js';
import { type RunningGateway, startGateway } from '../src/server.js';
import { LIFTED_LIMITS } from './helpers/gateway.js';
import { createKey } from './helpers/keys.js';
import {
  type GatewayDatabase,
  gatewayDatabase,
  postGraphQL,
  removeTempDirs,
  startInProcessGateway,
} from './helpers/server.js';

/** `npm start`'s environment. */
const NPM_START = { NODE_ENV: 'production' };

/** GraphiQL's own introspection query, as it sends it to fill its docs and autocompletion. */
const INTROSPECTION = getIntrospectionQuery({ inputValueDeprecation: true });

/** Asserts that `url` answers GraphiQL's introspection query with the whole schema. */
async function expectSchema(url: string, headers: Record<string, string> = {}) {
  const answer = await postGraphQL<{ data?: IntrospectionQuery; errors?: unknown }>(
    url,
    INTROSPECTION,
    undefined,
    headers,
  );
  expect(answer.status).toBe(200);
  expect(answer.body.errors).toBeUndefined();
  const schema = buildClientSchema(answer.body.data as IntrospectionQuery);
  expect(Object.keys(schema.getQueryType()?.getFields() ?? {})).toContain('chip');
  // Descriptions come along: what partners read in GraphiQL's docs.
  expect(schema.getQueryType()?.getFields().chip?.description).toBeTruthy();
}

/** Asserts that `url` refuses introspection to an anonymous caller but still runs queries. */
async function expectRefused(url: string) {
  const answer = await postGraphQL(url, INTROSPECTION);
  expect(answer.status).toBe(400);
  expect(answer.body.data).toBeUndefined();
  expect(answer.body.errors[0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
  expect(answer.body.errors[0].message).toMatch(/introspection/i);
  const query = await postGraphQL(url, '{ chip(slug: "h200") { name } }');
  expect(query.body).toEqual({ data: { chip: { name: 'NVIDIA H200 (SXM)' } } });
}

describe('the introspection default follows the listening address', () => {
  it('loopback addresses and localhost are loopback; wildcards, other addresses and names are not', () => {
    for (const host of [
      '127.0.0.1',
      '127.3.2.1',
      '::1',
      '[::1]',
      'localhost',
      '::ffff:127.0.0.1',
    ]) {
      expect(isLoopbackHost(host), host).toBe(true);
    }
    for (const host of [
      '0.0.0.0',
      '::',
      '10.1.2.3',
      '192.168.0.7',
      'fe80::1',
      'gateway.internal',
      '127.example.com',
    ]) {
      expect(isLoopbackHost(host), host).toBe(false);
    }
    expect(introspectionOf(loadEnv({ ...NPM_START }))).toBe('on');
    expect(introspectionOf(loadEnv({ ...NPM_START, CHIPGATE_HOST: '0.0.0.0' }))).toBe('keys');
    expect(
      introspectionOf(loadEnv({ CHIPGATE_HOST: '0.0.0.0', CHIPGATE_INTROSPECTION: 'on' })),
    ).toBe('on');
    expect(introspectionOf(loadEnv({ CHIPGATE_INTROSPECTION: 'off' }))).toBe('off');
  });

  describe('over a real socket', () => {
    let database: GatewayDatabase;
    beforeAll(async () => {
      database = await gatewayDatabase();
    });
    afterAll(async () => {
      await database?.cleanup();
      removeTempDirs();
    });

    it('on loopback (npm start): anonymous callers get the whole schema, as GraphiQL asks for it', async () => {
      const gateway = await startInProcessGateway({ ...NPM_START }, undefined, database);
      try {
        expect(new URL(gateway.url).hostname).toBe('127.0.0.1');
        await expectSchema(gateway.url);
      } finally {
        await gateway.stop();
      }
    });

    it('on loopback with CHIPGATE_INTROSPECTION=keys: refused without a key', async () => {
      const gateway = await startInProcessGateway(
        { ...NPM_START, CHIPGATE_INTROSPECTION: 'keys' },
        undefined,
        database,
      );
      try {
        await expectRefused(gateway.url);
        const key = await createKey(gateway.running.db.db, ['read'], 'posture loopback');
        await expectSchema(gateway.url, key.headers);
      } finally {
        await gateway.stop();
      }
    });

    /** A gateway listening on every interface (0.0.0.0), and its URL through 127.0.0.1. */
    async function onEveryInterface(vars: Record<string, string> = {}) {
      const env = {
        ...loadEnv({
          CHIPGATE_LOG_LEVEL: 'silent',
          ...LIFTED_LIMITS,
          ...NPM_START,
          ...database.env,
          ...vars,
        }),
        CHIPGATE_HOST: '0.0.0.0',
        CHIPGATE_PORT: 0,
      };
      const running: RunningGateway = await startGateway(env);
      const url = new URL(running.url);
      expect(url.hostname).toBe('0.0.0.0');
      url.hostname = '127.0.0.1';
      return { running, url: url.href };
    }

    it('on 0.0.0.0, reached through 127.0.0.1: refused without a key, the schema with one', async () => {
      const { running, url } = await onEveryInterface();
      try {
        await expectRefused(url);
        const key = await createKey(running.db.db, ['read'], 'posture wildcard');
        await expectSchema(url, key.headers);
      } finally {
        await running.stop();
      }
    });

    it('on 0.0.0.0 with CHIPGATE_INTROSPECTION=on: the explicit setting wins', async () => {
      const { running, url } = await onEveryInterface({ CHIPGATE_INTROSPECTION: 'on' });
      try {
        await expectSchema(url);
      } finally {
        await running.stop();
      }
    });
  });
});
