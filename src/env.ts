/**
 * Configuration: the only module that reads `process.env`. Every variable is parsed once with
 * zod; every bad value is reported at once, naming the variable and what it expects.
 */
import { isIPv4 } from 'node:net';
import { z } from 'zod';
import { checkCron } from './cron.js';
import {
  baseUrl,
  boolean,
  cacheSeconds,
  databaseUrl,
  databaseUrls,
  feedUrls,
  logLevel,
  millis,
  origins,
  pgliteSharedBuffers,
  port,
  positiveInt,
  redisUrl,
  subscriptionCount,
  wholeNumber,
} from './env-values.js';

/** The schema of every variable chipgate reads, with its default. */
export const envSchema = z.object({
  CHIPGATE_HOST: z
    .string()
    .min(1, { error: 'expected a host name or IP address' })
    .default('127.0.0.1'),
  CHIPGATE_PORT: port.default(4000),
  CHIPGATE_METRICS_PORT: port.optional(),
  DATABASE_URL: databaseUrl,
  // A session connection (LISTEN, migrations) when DATABASE_URL is a transaction-mode pooler.
  CHIPGATE_DATABASE_DIRECT_URL: databaseUrl,
  CHIPGATE_DATABASE_PREPARE: z
    .enum(['auto', 'on', 'off'], { error: 'expected auto, on or off' })
    .default('auto'),
  CHIPGATE_DB_POOL_MAX: positiveInt('a pool size between 1 and 100', 100).default(10),
  CHIPGATE_DATABASE_TIMEOUT_MS: positiveInt('milliseconds between 1 and 600000', 600_000).default(
    5_000,
  ),
  // Read replicas (src/db/replicas.ts): queries read there, writes and key checks the primary.
  CHIPGATE_READ_REPLICA_URLS: databaseUrls.default([]),
  // How long a read carrying a consistency token waits for a replica to replay it.
  CHIPGATE_REPLICA_WAIT_MS: millis(60_000).default(500),
  // A replica further behind than this (or unreachable) is out of rotation until it catches up.
  CHIPGATE_REPLICA_MAX_LAG_MS: millis(3_600_000)
    .refine((value) => value >= 100, { error: 'expected milliseconds between 100 and 3600000' })
    .default(5_000),
  CHIPGATE_PGLITE_DIR: z.string().min(1).default('./.chipgate/pgdata'),
  // Where PGlite templates live (default: node_modules/.cache/chipgate/pglite-templates).
  CHIPGATE_PGLITE_TEMPLATE_DIR: z.string().min(1).optional(),
  // PGlite's own default (128MB) holds about 120 MB more RSS for no gain on this data set.
  CHIPGATE_PGLITE_SHARED_BUFFERS: pgliteSharedBuffers.default('16MB'),
  CHIPGATE_CORS_ORIGINS: origins.default([]),
  CHIPGATE_LOG_LEVEL: logLevel.default('info'),
  CHIPGATE_GRAPHIQL: boolean.default(true),
  CHIPGATE_MAX_DEPTH: positiveInt('a query depth between 1 and 50', 50).default(12),
  CHIPGATE_MAX_ALIASES: positiveInt('an alias count between 1 and 1000', 1000).default(30),
  CHIPGATE_MAX_COST: positiveInt('a cost budget between 1 and 10000000', 10_000_000).default(
    50_000,
  ),
  CHIPGATE_MAX_TOKENS: positiveInt('a token count between 1 and 100000', 100_000).default(5_000),
  CHIPGATE_MAX_FIELD_REPEATS: positiveInt('a field count between 1 and 100', 100).default(10),
  CHIPGATE_MAX_FRAGMENT_SPREADS: positiveInt('a spread count between 1 and 1000', 1000).default(50),
  CHIPGATE_MAX_SELECTIONS: positiveInt('a field count between 1 and 100000', 100_000).default(
    1_000,
  ),
  CHIPGATE_MAX_RESPONSE_BYTES: positiveInt(
    'a byte count between 1 and 1073741824',
    1_073_741_824,
  ).default(8_388_608),
  CHIPGATE_PLANNER: z.enum(['on', 'off'], { error: 'expected on or off' }).default('on'),
  CHIPGATE_SUBSCRIPTION_QUEUE_MAX: positiveInt(
    'an event count between 1 and 100000',
    100_000,
  ).default(1_000),
  CHIPGATE_SSE_MAX_BUFFERED_BYTES: positiveInt(
    'a byte count between 1 and 1073741824',
    1_073_741_824,
  ).default(262_144),
  CHIPGATE_HEARTBEAT_MS: positiveInt('milliseconds between 1 and 600000', 600_000).default(12_000),
  CHIPGATE_WS_MAX_OPERATIONS: positiveInt('an operation count between 1 and 10000', 10_000).default(
    100,
  ),
  CHIPGATE_SHUTDOWN_TIMEOUT_MS: positiveInt('milliseconds between 1 and 600000', 600_000).default(
    10_000,
  ),
  CHIPGATE_FEDERAL_REGISTER_URL: baseUrl.default('https://www.federalregister.gov/api/v1'),
  CHIPGATE_SEC_URL: baseUrl.default('https://data.sec.gov'),
  CHIPGATE_SEC_USER_AGENT: z
    .string()
    .regex(/^[\x20-\x7e]+$/, { error: 'expected "<app or company name> <contact email>"' })
    // The SEC answers 403 to a User-Agent without a contact address.
    .regex(/[^\s@<>]+@[^\s@<>]+\.[a-z]{2,}/i, {
      error: 'expected "<app or company name> <contact email>" with a contact e-mail address',
    })
    .optional(),
  CHIPGATE_NEWS_FEEDS: feedUrls.default([]),
  CHIPGATE_SOURCE_TIMEOUT_MS: positiveInt('milliseconds between 1 and 60000', 60_000).default(
    2_000,
  ),
  CHIPGATE_SOURCE_RETRIES: wholeNumber('a retry count between 0 and 10', 0, 10).default(2),
  CHIPGATE_SOURCE_MAX_BYTES: positiveInt(
    'a byte count between 1 and 268435456',
    268_435_456,
  ).default(33_554_432),
  CHIPGATE_SOURCE_BREAKER_THRESHOLD: positiveInt(
    'a failure count between 1 and 1000',
    1000,
  ).default(5),
  CHIPGATE_SOURCE_BREAKER_COOLDOWN_MS: positiveInt(
    'milliseconds between 1 and 3600000',
    3_600_000,
  ).default(30_000),
  CHIPGATE_FEDERAL_REGISTER_CACHE_TTL_S: cacheSeconds.default(21_600),
  CHIPGATE_SEC_CACHE_TTL_S: cacheSeconds.default(21_600),
  CHIPGATE_NEWS_CACHE_TTL_S: cacheSeconds.default(900),
  CHIPGATE_FEDERAL_REGISTER_RATE: positiveInt(
    'requests per second between 1 and 1000',
    1000,
  ).default(5),
  CHIPGATE_SEC_RATE: positiveInt('requests per second between 1 and 1000', 1000).default(10),
  CHIPGATE_NEWS_RATE: positiveInt('requests per second between 1 and 1000', 1000).default(5),
  // Feeds get a much smaller cap than JSON APIs, and only their first items are parsed: an
  // XML parse blocks the event loop.
  CHIPGATE_NEWS_MAX_BYTES: positiveInt('a byte count between 1 and 33554432', 33_554_432).default(
    5_242_880,
  ),
  CHIPGATE_NEWS_MAX_ITEMS: positiveInt('an item count between 1 and 10000', 10_000).default(500),
  CHIPGATE_RESPONSE_CACHE_TTL_S: cacheSeconds.default(0),
  OTEL_EXPORTER_OTLP_ENDPOINT: baseUrl.optional(),
  OTEL_SERVICE_NAME: z.string().min(1).default('chipgate'),
  // Partner access: limits per key and per anonymous client address, shared through Redis.
  NODE_ENV: z.string().optional(),
  CHIPGATE_REDIS_URL: redisUrl.optional(),
  CHIPGATE_REDIS_PREFIX: z
    .string()
    .regex(/^[\w:.-]{1,64}$/, { error: 'expected 1-64 letters, digits, or _ : . -' })
    .default('chipgate:'),
  // Deadline of one Redis operation: past it the gateway stops using Redis until a probe succeeds.
  CHIPGATE_REDIS_TIMEOUT_MS: positiveInt('milliseconds between 1 and 10000', 10_000).default(250),
  CHIPGATE_TRUST_PROXY: wholeNumber('a number of proxies between 0 and 10', 0, 10).default(0),
  CHIPGATE_KEY_RATE_LIMIT: positiveInt(
    'requests per minute between 1 and 1000000',
    1_000_000,
  ).default(600),
  CHIPGATE_KEY_COST_LIMIT: positiveInt(
    'a cost per minute between 1 and 1000000000',
    1_000_000_000,
  ).default(10_000_000),
  CHIPGATE_KEY_MAX_SUBSCRIPTIONS: subscriptionCount.default(20),
  CHIPGATE_ANON_RATE_LIMIT: positiveInt(
    'requests per minute between 1 and 1000000',
    1_000_000,
  ).default(60),
  CHIPGATE_ANON_COST_LIMIT: positiveInt(
    'a cost per minute between 1 and 1000000000',
    1_000_000_000,
  ).default(200_000),
  CHIPGATE_ANON_MAX_SUBSCRIPTIONS: subscriptionCount.default(5),
  CHIPGATE_INTROSPECTION: z
    .enum(['on', 'keys', 'off'], { error: 'expected on, keys or off' })
    .optional(),
  CHIPGATE_APQ_MAX: positiveInt('an entry count between 1 and 1000000', 1_000_000).default(1_000),
  CHIPGATE_APQ_TTL_S: positiveInt('seconds between 1 and 2592000', 2_592_000).default(86_400),
  CHIPGATE_USAGE_FLUSH_S: positiveInt('seconds between 1 and 3600', 3_600).default(60),
  // Scheduled Federal Register sync (src/sync/scheduler.ts): off when unset.
  CHIPGATE_SYNC_FR_CRON: z
    .string()
    .refine(
      (value) => {
        try {
          checkCron(value);
          return true;
        } catch {
          return false;
        }
      },
      { error: 'expected a cron expression, 5 fields (e.g. "17 * * * *") or 6 with seconds' },
    )
    .optional(),
  CHIPGATE_SYNC_FR_WINDOW_DAYS: positiveInt('a day count between 1 and 36500', 36_500).default(30),
});

/** Parsed configuration, see `envSchema` and the README's configuration table. */
export type Env = z.infer<typeof envSchema>;

/** Raised with every invalid variable listed; `server.ts` prints it and exits with code 2. */
export class ConfigError extends Error {
  readonly issues: string[];
  constructor(issues: string[]) {
    super(`Invalid configuration:\n${issues.map((issue) => `  - ${issue}`).join('\n')}`);
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

/**
 * Parses configuration from an environment-like record (default: `process.env`).
 * Throws `ConfigError` naming each bad variable, its value's problem, and what it expects.
 */
export function loadEnv(source: Record<string, string | undefined> = process.env): Env {
  const relevant: Record<string, string | undefined> = {};
  for (const key of Object.keys(envSchema.shape)) {
    const value = source[key];
    // An empty variable means "unset", so `FOO= npm start` falls back to the default.
    relevant[key] = value === undefined || value.trim() === '' ? undefined : value;
  }
  const parsed = envSchema.safeParse(relevant);
  if (parsed.success && parsed.data.CHIPGATE_DATABASE_DIRECT_URL && !parsed.data.DATABASE_URL) {
    throw new ConfigError([
      'CHIPGATE_DATABASE_DIRECT_URL=(value hidden): needs DATABASE_URL (the pool) as well; without DATABASE_URL the embedded database is used',
    ]);
  }
  if (parsed.success) {
    // Replicas are PostgreSQL servers streaming from DATABASE_URL: PGlite has none.
    if (parsed.data.CHIPGATE_READ_REPLICA_URLS.length > 0 && !parsed.data.DATABASE_URL) {
      throw new ConfigError([
        'CHIPGATE_READ_REPLICA_URLS=(value hidden): read replicas need DATABASE_URL (the ' +
          'primary server they stream from); the embedded PGlite database has no replicas. ' +
          'Set DATABASE_URL or unset CHIPGATE_READ_REPLICA_URLS.',
      ]);
    }
    return parsed.data;
  }
  const issues = parsed.error.issues.map((issue) => {
    const key = String(issue.path[0] ?? '');
    // Credentials never reach the log: the database URL, and a source URL that carries some.
    const secret =
      key === 'DATABASE_URL' ||
      key === 'CHIPGATE_DATABASE_DIRECT_URL' ||
      key === 'CHIPGATE_REDIS_URL' ||
      key === 'CHIPGATE_READ_REPLICA_URLS' ||
      (key.endsWith('_URL') && /\/\/[^/]*@/.test(relevant[key] ?? ''));
    const shown = secret ? '(value hidden)' : JSON.stringify(relevant[key]);
    return `${key}=${shown}: ${issue.message}`;
  });
  throw new ConfigError(issues);
}

/** The per-operation query limits the configuration sets (see `QueryLimits` in context.ts). */
export function queryLimitsOf(env: Env) {
  return {
    maxDepth: env.CHIPGATE_MAX_DEPTH,
    maxAliases: env.CHIPGATE_MAX_ALIASES,
    maxCost: env.CHIPGATE_MAX_COST,
    maxTokens: env.CHIPGATE_MAX_TOKENS,
    maxFieldRepeats: env.CHIPGATE_MAX_FIELD_REPEATS,
    maxFragmentSpreads: env.CHIPGATE_MAX_FRAGMENT_SPREADS,
    maxSelections: env.CHIPGATE_MAX_SELECTIONS,
    maxResponseBytes: env.CHIPGATE_MAX_RESPONSE_BYTES,
  };
}

/**
 * The external sources' settings the configuration sets (see `SourcesConfig` in
 * `sources/index.ts`): base URLs, the per-field deadline, retries, size cap, breaker, cache TTLs
 * and client-side rate limits per source (news feeds: their own size cap and items per feed).
 * The SEC source is off when no User-Agent is set, the
 * news source when no feed is listed.
 */
export function sourcesConfigOf(env: Env) {
  const common = {
    timeoutMs: env.CHIPGATE_SOURCE_TIMEOUT_MS,
    retries: env.CHIPGATE_SOURCE_RETRIES,
    maxBytes: env.CHIPGATE_SOURCE_MAX_BYTES,
    breakerThreshold: env.CHIPGATE_SOURCE_BREAKER_THRESHOLD,
    breakerCooldownMs: env.CHIPGATE_SOURCE_BREAKER_COOLDOWN_MS,
  };
  return {
    federalRegister: {
      ...common,
      baseUrl: env.CHIPGATE_FEDERAL_REGISTER_URL,
      ttlMs: env.CHIPGATE_FEDERAL_REGISTER_CACHE_TTL_S * 1000,
      ratePerSecond: env.CHIPGATE_FEDERAL_REGISTER_RATE,
    },
    sec: {
      ...common,
      baseUrl: env.CHIPGATE_SEC_URL,
      userAgent: env.CHIPGATE_SEC_USER_AGENT,
      ttlMs: env.CHIPGATE_SEC_CACHE_TTL_S * 1000,
      ratePerSecond: env.CHIPGATE_SEC_RATE,
    },
    news: {
      ...common,
      maxBytes: env.CHIPGATE_NEWS_MAX_BYTES,
      maxItems: env.CHIPGATE_NEWS_MAX_ITEMS,
      feeds: env.CHIPGATE_NEWS_FEEDS,
      ttlMs: env.CHIPGATE_NEWS_CACHE_TTL_S * 1000,
      ratePerSecond: env.CHIPGATE_NEWS_RATE,
    },
  };
}

/** The response cache's settings the configuration sets (see `ResponseCacheOptions`). */
export function responseCacheOptionsOf(env: Env) {
  return {
    ttlSeconds: env.CHIPGATE_RESPONSE_CACHE_TTL_S,
    redisPrefix: `${env.CHIPGATE_REDIS_PREFIX}cache:`,
    sourceTtlMs: {
      'federal-register': env.CHIPGATE_FEDERAL_REGISTER_CACHE_TTL_S * 1000,
      'sec-edgar': env.CHIPGATE_SEC_CACHE_TTL_S * 1000,
      news: env.CHIPGATE_NEWS_CACHE_TTL_S * 1000,
    },
  };
}

/**
 * Whether `host` (`CHIPGATE_HOST`) makes the gateway reachable from this machine only: a
 * loopback address (127.0.0.0/8, `::1`, `::ffff:127.x.x.x`) or `localhost`. Any other address,
 * the wildcards `0.0.0.0` and `::` among them, or a host name (which may resolve anywhere), is
 * not.
 */
export function isLoopbackHost(host: string): boolean {
  const bare = host
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1');
  if (bare === 'localhost' || bare === '::1' || bare === '0:0:0:0:0:0:0:1') return true;
  const v4 = bare.startsWith('::ffff:') ? bare.slice('::ffff:'.length) : bare;
  return isIPv4(v4) && v4.startsWith('127.');
}

/**
 * Who may introspect when `CHIPGATE_INTROSPECTION` is unset: everyone (`on`) when the gateway
 * listens on loopback only (the `npm start` default, 127.0.0.1: nobody but this machine can
 * reach it), else only callers with an API key (`keys`, the production posture). An explicit
 * `CHIPGATE_INTROSPECTION` always wins.
 */
export function introspectionOf(env: Env): 'on' | 'keys' | 'off' {
  return env.CHIPGATE_INTROSPECTION ?? (isLoopbackHost(env.CHIPGATE_HOST) ? 'on' : 'keys');
}

/**
 * Partner access settings (see `AccessConfig` in `access/config.ts`): default limits for keys
 * and for anonymous callers, Redis, proxies to trust, introspection (`introspectionOf`), the
 * APQ store and the usage flush interval.
 */
export function accessConfigOf(env: Env) {
  return {
    keyDefaults: {
      requestsPerMinute: env.CHIPGATE_KEY_RATE_LIMIT,
      costPerMinute: env.CHIPGATE_KEY_COST_LIMIT,
      maxSubscriptions: env.CHIPGATE_KEY_MAX_SUBSCRIPTIONS,
    },
    anonymous: {
      requestsPerMinute: env.CHIPGATE_ANON_RATE_LIMIT,
      costPerMinute: env.CHIPGATE_ANON_COST_LIMIT,
      maxSubscriptions: env.CHIPGATE_ANON_MAX_SUBSCRIPTIONS,
    },
    redisUrl: env.CHIPGATE_REDIS_URL,
    redisPrefix: env.CHIPGATE_REDIS_PREFIX,
    trustProxy: env.CHIPGATE_TRUST_PROXY,
    introspection: introspectionOf(env),
    apq: { max: env.CHIPGATE_APQ_MAX, ttlSeconds: env.CHIPGATE_APQ_TTL_S },
    usageFlushSeconds: env.CHIPGATE_USAGE_FLUSH_S,
  } as const;
}
