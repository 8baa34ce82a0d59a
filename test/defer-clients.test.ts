/**
 * Real clients against a real gateway on 127.0.0.1 receive `@defer` incrementally: urql
 * (`@urql/core` with its default exchanges; `fetchExchange` reads multipart/mixed) and Apollo
 * Client 4 (`HttpLink` with the `Defer20220824Handler`, the 2022 format yoga emits). The first
 * result lacks the deferred fields; the last has them.
 */
import { ApolloClient, gql, HttpLink, InMemoryCache } from '@apollo/client';
import { Defer20220824Handler } from '@apollo/client/incremental';
import { Client, cacheExchange, fetchExchange } from '@urql/core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type InProcessGateway, removeTempDirs, startInProcessGateway } from './helpers/server.js';

let gateway: InProcessGateway;

beforeAll(async () => {
  gateway = await startInProcessGateway();
}, 60_000);
afterAll(async () => {
  await gateway?.stop();
  removeTempDirs();
});

const QUERY = `query Chip {
  chip(slug: "h200") {
    slug
    ... on Chip @defer { tpp designer { name } }
  }
}`;

const DEFERRED = { tpp: 15830, designer: { __typename: 'Company', name: 'NVIDIA Corporation' } };

it('urql: the first result lacks the deferred fields, the last has them', async () => {
  const client = new Client({ url: gateway.url, exchanges: [cacheExchange, fetchExchange] });
  const results: { data?: any; hasNext?: boolean; error?: unknown }[] = [];
  await new Promise<void>((resolve, reject) => {
    // Not unsubscribed: the last result ends the operation (unsubscribing aborts the fetch).
    client.query(QUERY, {}).subscribe((result) => {
      results.push({
        data: structuredClone(result.data),
        hasNext: result.hasNext,
        error: result.error,
      });
      if (result.error) reject(result.error);
      if (!result.hasNext) resolve();
    });
  });
  expect(results.length).toBeGreaterThan(1);
  const [first] = results;
  expect(first?.hasNext).toBe(true);
  expect(first?.data.chip.slug).toBe('h200');
  expect(first?.data.chip.tpp).toBeUndefined();
  expect(first?.data.chip.designer).toBeUndefined();
  expect(results.at(-1)?.data).toEqual({ chip: { __typename: 'Chip', slug: 'h200', ...DEFERRED } });
});

it('Apollo Client 4 with Defer20220824Handler: streaming, then complete', async () => {
  const client = new ApolloClient({
    link: new HttpLink({ uri: gateway.url }),
    cache: new InMemoryCache(),
    incrementalHandler: new Defer20220824Handler(),
  });
  const results: { data?: any; dataState: string }[] = [];
  await new Promise<void>((resolve, reject) => {
    const subscription = client.watchQuery({ query: gql(QUERY) }).subscribe({
      next(result) {
        results.push({ data: structuredClone(result.data), dataState: result.dataState });
        if (result.error) reject(result.error);
        if (result.dataState === 'complete') {
          subscription.unsubscribe();
          resolve();
        }
      },
      error: reject,
    });
  });
  const streaming = results.find((result) => result.dataState === 'streaming');
  expect(streaming?.data.chip.slug).toBe('h200');
  expect(streaming?.data.chip.tpp).toBeUndefined();
  expect(results.at(-1)).toEqual({
    dataState: 'complete',
    data: { chip: { __typename: 'Chip', slug: 'h200', ...DEFERRED } },
  });
  client.stop();
});
