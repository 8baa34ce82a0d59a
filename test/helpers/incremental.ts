/**
 * Incremental delivery (`@defer`/`@stream`, the 2022 format graphql-yoga emits) as a client
 * sees it: reading a `multipart/mixed` or `text/event-stream` response into its payloads, and
 * merging the payloads into the one result the operation would have answered without
 * `@defer`/`@stream`.
 */

/** One payload of an incremental response (the first has `data`, later ones `incremental`). */
export interface Payload {
  data?: Record<string, unknown> | null;
  errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, unknown> }[];
  extensions?: Record<string, unknown>;
  hasNext?: boolean;
  incremental?: {
    path: (string | number)[];
    data?: Record<string, unknown> | null;
    items?: unknown[];
    errors?: Payload['errors'];
    label?: string;
  }[];
}

/** The payloads of a `multipart/mixed` body (boundary from the content type). */
export function multipartPayloads(contentType: string, body: string): Payload[] {
  const boundary = /boundary="?([^";]+)"?/.exec(contentType)?.[1];
  if (!boundary) throw new Error(`no boundary in ${contentType}`);
  const payloads: Payload[] = [];
  for (const part of body.split(`\r\n--${boundary}`).flatMap((p) => p.split(`\n--${boundary}`))) {
    const start = part.search(/\r?\n\r?\n/);
    if (start < 0) continue;
    const text = part.slice(start).trim();
    if (text.startsWith('{')) payloads.push(JSON.parse(text) as Payload);
  }
  return payloads;
}

/** The `event: next` payloads of a `text/event-stream` body (the stream must end `complete`). */
export function ssePayloads(body: string): Payload[] {
  const payloads: Payload[] = [];
  let completed = false;
  for (const frame of body.split('\n\n')) {
    const event = /^event: (.*)$/m.exec(frame)?.[1];
    const data = /^data: (.*)$/m.exec(frame)?.[1];
    if (event === 'next' && data) payloads.push(JSON.parse(data) as Payload);
    if (event === 'complete') completed = true;
  }
  if (!completed) throw new Error('the event stream did not complete');
  return payloads;
}

/** POSTs an operation over a real socket and reads its payloads (multipart or SSE). */
export async function fetchPayloads(
  url: string,
  query: string,
  options: {
    variables?: Record<string, unknown>;
    accept?: 'multipart/mixed' | 'text/event-stream';
    headers?: Record<string, string>;
  } = {},
): Promise<{ status: number; contentType: string; payloads: Payload[] }> {
  const accept = options.accept ?? 'multipart/mixed';
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept, ...options.headers },
    body: JSON.stringify({ query, variables: options.variables }),
  });
  const contentType = response.headers.get('content-type') ?? '';
  const text = await response.text();
  let payloads: Payload[];
  if (contentType.startsWith('multipart/mixed')) payloads = multipartPayloads(contentType, text);
  else if (contentType.startsWith('text/event-stream')) payloads = ssePayloads(text);
  else payloads = [JSON.parse(text) as Payload];
  return { status: response.status, contentType, payloads };
}

/** The value at `path` in `data` (creating nothing; undefined when absent). */
function at(data: unknown, path: readonly (string | number)[]): unknown {
  let value = data;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string | number, unknown>)[key];
  }
  return value;
}

/** Deep-merges `source` into `target` (objects key by key; arrays index by index). */
function deepMerge(target: Record<string, unknown>, source: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(source)) {
    const existing = target[key];
    if (
      existing !== null &&
      typeof existing === 'object' &&
      value !== null &&
      typeof value === 'object'
    ) {
      deepMerge(existing as Record<string, unknown>, value as Record<string, unknown>);
    } else {
      target[key] = value;
    }
  }
}

/**
 * Merges the payloads of an incremental response into one result, per the 2022 format:
 * `incremental[].data` merged into the object at `path`, `incremental[].items` appended to the
 * list at `path` (whose last key is the index of the first item); errors concatenated. Keys
 * come out in the order they arrived (compare results with key order ignored).
 */
export function mergePayloads(payloads: readonly Payload[]): Payload {
  const [first, ...rest] = payloads;
  if (!first) throw new Error('no payload');
  const merged: Payload = structuredClone({ data: first.data, errors: first.errors });
  if (first.extensions) merged.extensions = first.extensions;
  const errors = [...(first.errors ?? [])];
  for (const payload of rest) {
    errors.push(...(payload.errors ?? []));
    for (const part of payload.incremental ?? []) {
      errors.push(...(part.errors ?? []));
      if (part.items) {
        const list = at(merged.data, part.path.slice(0, -1));
        const index = part.path[part.path.length - 1] as number;
        if (!Array.isArray(list)) continue;
        part.items.forEach((item, i) => {
          list[index + i] = structuredClone(item);
        });
      } else if (part.data) {
        const target = at(merged.data, part.path);
        if (target && typeof target === 'object') {
          deepMerge(target as Record<string, unknown>, structuredClone(part.data));
        }
      }
    }
  }
  if (errors.length > 0) merged.errors = errors;
  else delete merged.errors;
  return merged;
}

/** `value` with object keys sorted at every level (to compare results whatever the order). */
export function sortedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedKeys);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((key) => [key, sortedKeys((value as Record<string, unknown>)[key])]),
  );
}

/**
 * POSTs an operation to an app in process (`yoga.fetch`, no socket) asking for
 * `multipart/mixed`, and reads its payloads (one, when the answer is a single JSON result).
 */
export async function incrementalOn(
  app: {
    yoga: {
      fetch: (url: string, init: RequestInit) => Promise<globalThis.Response> | globalThis.Response;
    };
  },
  query: string,
  variables?: Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<{ status: number; payloads: Payload[] }> {
  const response = await app.yoga.fetch('http://chipgate.test/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'multipart/mixed', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  const contentType = response.headers.get('content-type') ?? '';
  const text = await response.text();
  const payloads = contentType.startsWith('multipart/mixed')
    ? multipartPayloads(contentType, text)
    : [JSON.parse(text) as Payload];
  return { status: response.status, payloads };
}
