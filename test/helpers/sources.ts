/**
 * Shared setup of the source tests (test/sources*.test.ts): one fixture upstream and one test
 * gateway per test file, apps with their own cold sources over that gateway's database, and the
 * queries and assertions several of those files use.
 *
 * `upstream` and `gateway` are live bindings set by the `beforeAll` that `useSourcesTestbed`
 * registers; each test file runs in its own module graph, so they belong to the calling file.
 */
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { createApp } from '../../src/app.js';
import { createSources, type Sources, type SourcesConfig } from '../../src/sources/index.js';
import {
  accessConfig,
  createTestGateway,
  defaultLimits,
  executeOn,
  type Response,
  type TestGateway,
} from './gateway.js';
import { startUpstream, type Upstream, upstreamSourcesConfig } from './upstream.js';

/** The fixture upstream of the running test file (set in `beforeAll`, reset after each test). */
export let upstream: Upstream;
/** The test gateway of the running test file, its sources pointing at `upstream`. */
export let gateway: TestGateway;
const opened: Sources[] = [];

/**
 * Registers the hooks of a source test file: starts `upstream` and `gateway` before its tests,
 * resets the upstream and closes the sources `appWith` opened after each test, and closes both
 * after the file.
 */
export function useSourcesTestbed(): void {
  beforeAll(async () => {
    upstream = await startUpstream();
    gateway = await createTestGateway({ sources: upstreamSourcesConfig(upstream) });
  });
  afterAll(async () => {
    await gateway?.close();
    await upstream?.close();
  });
  afterEach(async () => {
    upstream.reset();
    await Promise.all(opened.splice(0).map((sources) => sources.close()));
  });
}

/** An app over the test database with its own (cold) sources. */
export function appWith(config: SourcesConfig) {
  const sources = createSources(config);
  opened.push(sources);
  const app = createApp({
    db: gateway.database.db,
    events: gateway.events,
    sources,
    ping: async () => {},
    limits: defaultLimits(),
    corsOrigins: [],
    graphiql: false,
    access: { config: accessConfig() },
  });
  return {
    sources,
    execute: (query: string, variables?: Record<string, unknown>) =>
      executeOn(app, query, variables),
  };
}

/**
 * The partial-response query: a decision with its Federal Register document, and NVIDIA with its
 * financials (the fields `expectPartial` checks).
 */
export const PARTIAL = /* GraphQL */ `{
  policyDecision(slug: "us-bis-2026-01-13-h200-license-review-policy") {
    title
    federalRegisterDocument { documentNumber source { stale } }
  }
  company(slug: "nvidia") { name financials { concept } }
}`;

/** Asserts the partial response: the document null with `code`, everything else intact. */
export function expectPartial(result: Response, code: string) {
  expect(result.data?.policyDecision).toEqual({
    title: 'Revision to License Review Policy for Advanced Computing Commodities',
    federalRegisterDocument: null,
  });
  expect(result.data?.company).toEqual({
    name: 'NVIDIA Corporation',
    financials: { concept: 'us-gaap:Revenues' },
  });
  expect(result.errors).toHaveLength(1);
  expect(result.errors?.[0]).toMatchObject({
    path: ['policyDecision', 'federalRegisterDocument'],
    extensions: { code, source: 'federal-register' },
  });
}

/** A Federal Register search of rules from 2023 on, two a page, with an optional agency. */
export const SEARCH = /* GraphQL */ `query ($after: String, $agency: String) {
  federalRegisterDocuments(filter: { agency: $agency, type: [RULE], from: "2023-01-01" }, first: 2, after: $after) {
    edges { cursor node { documentNumber } }
    pageInfo { hasNextPage endCursor }
  }
}`;
