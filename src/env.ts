/**
 * Configuration: the only module that reads `process.env`. Every variable is parsed once with
 * zod; every bad value is reported at once, naming the variable and what it expects.
 */
import { z } from 'zod';

const port = z.coerce
  .number({ error: 'expected a TCP port number (1-65535)' })
  .int({ error: 'expected a whole TCP port number (1-65535)' })
  .min(1, { error: 'expected a TCP port number (1-65535)' })
  .max(65535, { error: 'expected a TCP port number (1-65535)' });

const positiveInt = (what: string, max: number) =>
  z.coerce
    .number({ error: `expected ${what}` })
    .int({ error: `expected ${what}` })
    .min(1, { error: `expected ${what}` })
    .max(max, { error: `expected ${what} (at most ${max})` });

const databaseUrl = z
  .string()
  .refine(
    (value) => {
      try {
        const url = new URL(value);
        return (url.protocol === 'postgres:' || url.protocol === 'postgresql:') && !!url.hostname;
      } catch {
        return false;
      }
    },
    { error: 'expected a URL like postgres://user:password@host:5432/database' },
  )
  .optional();

const origins = z.preprocess(
  (value) =>
    typeof value === 'string'
      ? value
          .split(',')
          .map((origin) => origin.trim())
          .filter(Boolean)
      : value,
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

const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
  error: 'expected one of fatal, error, warn, info, debug, trace, silent',
});

const boolean = z.preprocess(
  (value) => (typeof value === 'string' ? value.trim().toLowerCase() : value),
  z
    .enum(['true', 'false', '1', '0'], { error: 'expected true or false' })
    .transform((value) => value === 'true' || value === '1'),
);

/** The schema of every variable chipgate reads, with its default. */
export const envSchema = z.object({
  CHIPGATE_HOST: z
    .string()
    .min(1, { error: 'expected a host name or IP address' })
    .default('127.0.0.1'),
  CHIPGATE_PORT: port.default(4000),
  DATABASE_URL: databaseUrl,
  CHIPGATE_DB_POOL_MAX: positiveInt('a pool size between 1 and 100', 100).default(10),
  CHIPGATE_PGLITE_DIR: z.string().min(1).default('./.chipgate/pgdata'),
  CHIPGATE_CORS_ORIGINS: origins.default([]),
  CHIPGATE_LOG_LEVEL: logLevel.default('info'),
  CHIPGATE_GRAPHIQL: boolean.default(true),
  CHIPGATE_MAX_DEPTH: positiveInt('a query depth between 1 and 50', 50).default(12),
  CHIPGATE_MAX_ALIASES: positiveInt('an alias count between 1 and 1000', 1000).default(30),
  CHIPGATE_MAX_COST: positiveInt('a cost budget between 1 and 10000000', 10_000_000).default(
    50_000,
  ),
  CHIPGATE_MAX_TOKENS: positiveInt('a token count between 1 and 100000', 100_000).default(5_000),
  CHIPGATE_SUBSCRIPTION_QUEUE_MAX: positiveInt(
    'an event count between 1 and 100000',
    100_000,
  ).default(1_000),
  CHIPGATE_SHUTDOWN_TIMEOUT_MS: positiveInt('milliseconds between 1 and 600000', 600_000).default(
    10_000,
  ),
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
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((issue) => {
    const key = String(issue.path[0] ?? '');
    const shown = key === 'DATABASE_URL' ? '(value hidden)' : JSON.stringify(relevant[key]);
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
  };
}
