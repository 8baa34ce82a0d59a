/**
 * The GraphQL clients of the page: urql for queries (with `@defer`: urql's fetch exchange reads
 * the incremental payloads and merges them) and graphql-sse for the live feed. Both send the
 * read key and only trusted-document ids, never query text.
 */
import { Client, fetchExchange } from '@urql/core';
import { persistedExchange } from '@urql/exchange-persisted';
import { createClient as createSseClient, type Client as SseClient } from 'graphql-sse';
import { documentIdOf } from './documents.js';

/** The name of a document's first operation ('' when it has none). */
function operationNameOf(document: {
  definitions: readonly { kind: string; name?: { value: string } }[];
}): string {
  const operation = document.definitions.find((d) => d.kind === 'OperationDefinition');
  return operation?.name?.value ?? '';
}

/** Where the gateway is and the key the page presents (from `config.json`). */
export interface DashboardConfig {
  /** The gateway's GraphQL endpoint, e.g. `https://api.example.com/graphql`. */
  gateway: string;
  /** A `read` API key, ideally `--persisted-only`, with this page's documents registered. */
  key: string;
  /** The chip shown first (a slug, e.g. `h200`); `?chip=` in the page's URL wins. */
  chip?: string;
}

/** An urql client that sends `{ extensions: { persistedQuery: { sha256Hash } } }` by POST. */
export function queryClient(config: DashboardConfig): Client {
  return new Client({
    url: config.gateway,
    preferGetMethod: false,
    requestPolicy: 'network-only',
    fetchOptions: () => ({ headers: { authorization: `Bearer ${config.key}` } }),
    exchanges: [
      persistedExchange({
        enforcePersistedQueries: true,
        preferGetForPersistedQueries: false,
        // The build's hash of the exact text registered (urql's reprint of it differs).
        generateHash: async (_printed, document) => {
          const id = documentIdOf(operationNameOf(document));
          if (!id) throw new Error('not one of the dashboard documents: rebuild the page');
          return id;
        },
      }),
      fetchExchange,
    ],
  });
}

/** A graphql-sse client (distinct connections) that retries nothing by itself: see feed.ts. */
export function feedClient(config: DashboardConfig): SseClient {
  return createSseClient({
    url: config.gateway,
    headers: { authorization: `Bearer ${config.key}` },
    retryAttempts: 0,
  });
}
