/**
 * The value types of chipgate's configuration (zod schemas for ports, URLs, lists, sizes, ...),
 * shared by the variables `env.ts` declares. Each says what it accepts and its error message.
 */
import { z } from 'zod';

/** A TCP port, 1-65535. */
export const port = z.coerce
  .number({ error: 'expected a TCP port number (1-65535)' })
  .int({ error: 'expected a whole TCP port number (1-65535)' })
  .min(1, { error: 'expected a TCP port number (1-65535)' })
  .max(65535, { error: 'expected a TCP port number (1-65535)' });

/**
 * A whole number from `min` to `max`; every error says `expected <what>` (e.g. `a retry count
 * between 0 and 10`), one over `max` `expected <overMax>` (default: `what`).
 */
export const wholeNumber = (what: string, min: number, max: number, overMax = what) =>
  z.coerce
    .number({ error: `expected ${what}` })
    .int({ error: `expected ${what}` })
    .min(min, { error: `expected ${what}` })
    .max(max, { error: `expected ${overMax}` });

/** A whole number from 1 to `max`; `what` names it in the error (e.g. `a connection count`). */
export const positiveInt = (what: string, max: number) =>
  wholeNumber(what, 1, max, `${what} (at most ${max})`);

/** A URL of a server: one of `protocols` (e.g. `redis:`) and a host name; else `error`. */
const serverUrl = (protocols: readonly string[], error: string) =>
  z.string().refine(
    (value) => {
      try {
        const url = new URL(value);
        return protocols.includes(url.protocol) && !!url.hostname;
      } catch {
        return false;
      }
    },
    { error },
  );

/** A `postgres://` (or `postgresql://`) URL of a server. */
export const databaseUrl = serverUrl(
  ['postgres:', 'postgresql:'],
  'expected a URL like postgres://user:password@host:5432/database',
).optional();

/** A comma-separated string as its non-empty, trimmed items (other values unchanged). */
const commaList = (value: unknown): unknown =>
  typeof value === 'string'
    ? value
        .split(',')
        .map((item) => item.trim())
        .filter(Boolean)
    : value;

/**
 * A comma-separated list of postgres:// URLs (read replicas); empty: none. A value of commas
 * only is an error (the list it meant to give is missing), not "none".
 */
export const databaseUrls = z.preprocess(
  (value) => (typeof value === 'string' && /^[\s,]*,[\s,]*$/.test(value) ? [''] : commaList(value)),
  z.array(databaseUrl.unwrap()),
);

/** Milliseconds from 0 up to `max`. */
export const millis = (max: number) => wholeNumber(`milliseconds between 0 and ${max}`, 0, max);

/** Comma-separated browser origins (`https://dash.example.com`: scheme, host, port; no path). */
export const origins = z.preprocess(
  commaList,
  z.array(
    z.string().refine(
      (origin) => {
        try {
          const url = new URL(origin);
          return (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === origin;
        } catch {
          return false;
        }
      },
      { error: 'expected comma-separated origins like https://dash.example.com (no path)' },
    ),
  ),
);

/** A pino log level, `fatal` to `trace`, or `silent`. */
export const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
  error: 'expected one of fatal, error, warn, info, debug, trace, silent',
});

/** A cache lifetime in seconds; 0 turns the cache (and serve-stale) off. */
export const cacheSeconds = wholeNumber('seconds between 0 and 604800 (0: no cache)', 0, 604_800);

/** An absolute http(s) base URL, without a trailing slash, query, fragment or credentials. */
export const baseUrl = z
  .string()
  .refine(
    (value) => {
      try {
        const url = new URL(value);
        return (url.protocol === 'http:' || url.protocol === 'https:') && !url.search;
      } catch {
        return false;
      }
    },
    { error: 'expected an http(s) URL like https://api.example.com/v1 (no query string)' },
  )
  .refine((value) => !value.includes('#'), {
    error: 'expected a base URL without a #fragment',
  })
  .refine(
    (value) => {
      try {
        const url = new URL(value);
        return !url.username && !url.password;
      } catch {
        return true;
      }
    },
    { error: 'expected a base URL without user:password@ credentials' },
  )
  .transform((value) => value.replace(/\/+$/, ''));

/** Comma-separated absolute http(s) feed URLs; a value that lists none is an error. */
export const feedUrls = z.preprocess(
  commaList,
  z
    .array(
      z
        .string()
        .refine((value) => !/\s/.test(value), {
          error: 'expected feed URLs separated by commas, not spaces',
        })
        .refine(
          (value) => {
            try {
              const url = new URL(value);
              return url.protocol === 'http:' || url.protocol === 'https:';
            } catch {
              return false;
            }
          },
          { error: 'expected comma-separated absolute http(s) feed URLs' },
        ),
    )
    .min(1, { error: 'expected comma-separated http(s) feed URLs; the value lists none' }),
);

/** `true`/`false`/`1`/`0`, any case, as a boolean. */
export const boolean = z.preprocess(
  (value) => (typeof value === 'string' ? value.trim().toLowerCase() : value),
  z
    .enum(['true', 'false', '1', '0'], { error: 'expected true or false' })
    .transform((value) => value === 'true' || value === '1'),
);

/** A Redis URL (`redis://` or `rediss://`, TLS). */
export const redisUrl = serverUrl(
  ['redis:', 'rediss:'],
  'expected a URL like redis://127.0.0.1:6379 (or rediss:// for TLS)',
);

/** Kilobytes in a PostgreSQL memory size (`kB`, `MB` or `GB`), or undefined if it is not one. */
function kilobytesOf(value: string): number | undefined {
  const match = /^(\d+)(kB|MB|GB)$/.exec(value.trim());
  if (!match) return undefined;
  return Number(match[1]) * { kB: 1, MB: 1024, GB: 1024 * 1024 }[match[2] as 'kB' | 'MB' | 'GB'];
}

/**
 * PGlite's `shared_buffers`: 128kB (PostgreSQL's least) to 1GB (PGlite's memory tops out at
 * 2 GiB).
 */
export const pgliteSharedBuffers = z
  .string()
  .transform((value) => value.trim())
  .refine(
    (value) => {
      const kilobytes = kilobytesOf(value);
      return kilobytes !== undefined && kilobytes >= 128 && kilobytes <= 1024 * 1024;
    },
    { error: 'expected a size from 128kB to 1GB, like 16MB (units kB, MB or GB)' },
  );

/** Concurrent subscriptions, 0 (none allowed) to 100000. */
export const subscriptionCount = wholeNumber(
  'a subscription count between 0 and 100000',
  0,
  100_000,
);
