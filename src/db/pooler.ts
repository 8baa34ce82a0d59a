/**
 * What the server behind a postgres:// URL allows, found by looking, so that the gateway works
 * behind a connection pooler in transaction mode (PgBouncer) as well as on PostgreSQL itself:
 *
 * - whether it accepts `jit` as a startup parameter (PgBouncer refuses every startup parameter
 *   it does not track; it tracks `TimeZone`, `application_name` and `client_encoding`, and sets
 *   them on whichever server connection serves a transaction, so those stay per client);
 * - whether client connections share server sessions between transactions (a transaction-mode
 *   pooler): then nothing that lives in a session (LISTEN, session advisory locks, `SET`)
 *   survives from one transaction to the next;
 * - whether a named prepared statement survives between transactions of one client connection
 *   (PgBouncer 1.21+ with `max_prepared_statements` carries them over; older ones do not).
 *
 * The probe uses two client connections A and B of its own. A runs a named prepared statement
 * and reads its backend pid; B then opens a transaction and reads its pid. On PostgreSQL (or a
 * session-mode pooler) B never gets A's backend, since A still holds it. A transaction-mode
 * pooler hands A's backend, idle between transactions, to B (PgBouncer reuses the most recently
 * released server connection first). While B holds it, A runs its prepared statement again
 * inside a transaction, so on another backend: PgBouncer before 1.21 answers "prepared
 * statement does not exist" (inside a transaction postgres.js cannot retry it away). Three
 * tries: with other clients on the pooler, B may get another backend.
 */
import postgres from 'postgres';

/** `CHIPGATE_DATABASE_PREPARE`: named prepared statements always, never, or where they work. */
export type PrepareMode = 'auto' | 'on' | 'off';

/** What a probe found about one URL. */
export interface PoolFacts {
  /** The server accepted `jit` as a startup parameter (PostgreSQL does, PgBouncer does not). */
  acceptsJitParameter: boolean;
  /** Client connections share server sessions between transactions (transaction pooling). */
  sharesSessions: boolean;
  /** A named prepared statement survives between transactions of one client connection. */
  keepsPreparedStatements: boolean;
}

/**
 * `CHIPGATE_DATABASE_PREPARE=on` where prepared statements do not survive, or another setting
 * the server cannot honour: start-up stops with this message, which says what to set.
 */
export class PoolerSetupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PoolerSetupError';
  }
}

const PROBE_TRIES = 3;
/** How long A may wait for a backend while B holds one (a pool of one server connection). */
const HELD_WAIT_MS = 2_000;

/** Startup parameters every probe connection sends (all tracked by PgBouncer). */
const PROBE_CONNECTION = { application_name: 'chipgate-probe', TimeZone: 'UTC' };

function probeClient(url: string, connection: Record<string, string>, prepare: boolean) {
  return postgres(url, {
    max: 1,
    prepare,
    fetch_types: false,
    connect_timeout: 10,
    idle_timeout: 5,
    onnotice: () => {},
    connection,
  } as postgres.Options<Record<string, never>>);
}

/** Whether `error` is a server refusing a startup parameter (PgBouncer: SQLSTATE 08P01). */
function refusedStartupParameter(error: unknown): boolean {
  const { code, message } = error as { code?: string; message?: string };
  return code === '08P01' && /startup parameter/i.test(message ?? '');
}

/** A statement with a parameter: postgres.js prepares it in its own round trip first. */
const PID_QUERY = 'select pg_backend_pid() as pid, $1::int as probe';

/**
 * Whether the server at `url` accepts `jit` as a startup parameter (PgBouncer refuses it before
 * it opens any server connection). Rejects when the server cannot be reached.
 */
export async function acceptsJitParameter(url: string): Promise<boolean> {
  const client = probeClient(url, { ...PROBE_CONNECTION, jit: 'off' }, false);
  try {
    await client.unsafe('select 1');
    return true;
  } catch (error) {
    if (refusedStartupParameter(error)) return false;
    throw error;
  } finally {
    await client.end({ timeout: 0 }).catch(() => {});
  }
}

/**
 * Probes `url` for shared sessions and prepared statements (see the module comment). Rejects
 * when the server cannot be reached.
 */
export async function probeSessions(
  url: string,
): Promise<Pick<PoolFacts, 'sharesSessions' | 'keepsPreparedStatements'>> {
  const a = probeClient(url, PROBE_CONNECTION, true);
  const b = probeClient(url, PROBE_CONNECTION, false);
  try {
    for (let attempt = 0; attempt < PROBE_TRIES; attempt += 1) {
      const [first] = await a.unsafe<{ pid: number }[]>(PID_QUERY, [attempt], { prepare: true });
      let release: () => void = () => {};
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      let heldPid: (pid: number) => void = () => {};
      const pidOfB = new Promise<number>((resolve) => {
        heldPid = resolve;
      });
      const transaction = b.begin(async (tx) => {
        const [row] = await tx<{ pid: number }[]>`select pg_backend_pid() as pid`;
        heldPid(row?.pid ?? -1);
        await held;
      });
      transaction.catch(() => {});
      const shared = (await Promise.race([pidOfB, transaction.then(() => -1)])) === first?.pid;
      if (!shared) {
        release();
        await transaction;
        continue;
      }
      // B holds A's former backend: A's statement now runs elsewhere, inside a transaction.
      const timer = setTimeout(release, HELD_WAIT_MS);
      try {
        const keeps = await a
          .begin((tx) => tx.unsafe(PID_QUERY, [attempt], { prepare: true }))
          .then(
            () => true,
            (error: { code?: string }) => {
              if (error.code === '26000') return false;
              throw error;
            },
          );
        return { sharesSessions: true, keepsPreparedStatements: keeps };
      } finally {
        clearTimeout(timer);
        release();
        await transaction.catch(() => {});
      }
    }
    return { sharesSessions: false, keepsPreparedStatements: true };
  } finally {
    await Promise.all([a.end({ timeout: 1 }), b.end({ timeout: 1 })]).catch(() => {});
  }
}

/**
 * Whether the pool prepares its statements, for `mode` and what the probe found. Throws
 * `PoolerSetupError` for `on` where prepared statements do not survive between transactions.
 */
export function preparedStatementsFor(
  mode: PrepareMode,
  facts: Pick<PoolFacts, 'keepsPreparedStatements'>,
): boolean {
  if (mode === 'off') return false;
  if (facts.keepsPreparedStatements) return true;
  if (mode === 'auto') return false;
  throw new PoolerSetupError(
    'CHIPGATE_DATABASE_PREPARE=on, but the server at DATABASE_URL does not keep prepared ' +
      'statements between transactions: it is a connection pooler in transaction mode ' +
      '(PgBouncer before 1.21, or with max_prepared_statements = 0). Set ' +
      'CHIPGATE_DATABASE_PREPARE=off (or auto, which detects it), or point DATABASE_URL at ' +
      'PostgreSQL or a pooler that keeps them.',
  );
}

/** What `ensureJitOff` did. */
export type JitDefault = 'already-off' | 'set' | { failed: string };

/**
 * JIT off for the statements of a pool that cannot take `jit` as a startup parameter: when
 * `current_setting('jit')` is on there, sets it off as the default of the connecting role in
 * this database (`ALTER ROLE ... IN DATABASE ... SET jit = off`, which a role may do for
 * itself), through the pool itself so that it is the role the pooler logs in as. Server
 * connections the pooler opened before (for other clients) keep JIT on until it replaces them.
 */
export async function ensureJitOff(url: string): Promise<JitDefault> {
  const client = probeClient(url, PROBE_CONNECTION, false);
  try {
    const [row] = await client<{ jit: string }[]>`select current_setting('jit') as jit`;
    if (row?.jit !== 'on') return 'already-off';
    await client.unsafe(
      `do $$ begin execute format('alter role %I in database %I set jit = off', current_user, current_database()); end $$`,
    );
    // This server session was opened with JIT on; ending it makes the pooler open a new one,
    // which starts with the new default.
    await client.unsafe('select pg_terminate_backend(pg_backend_pid())').catch(() => {});
    return 'set';
  } catch (error) {
    return { failed: (error as Error).message };
  } finally {
    await client.end({ timeout: 0 }).catch(() => {});
  }
}

/** What the gateway does with its pool and its sessions, from the probes (`poolingOf`). */
export interface Pooling {
  /** The pool uses named prepared statements. */
  prepared: boolean;
  /**
   * How JIT is kept off: `parameter` (the `jit` startup parameter, as on PostgreSQL itself), or
   * `default` (the pooler refuses it: the role's default in this database, see `jitDefault`).
   */
  jit: 'parameter' | 'default';
  /** With `jit: 'default'`: what `ensureJitOff` found or did. */
  jitDefault?: JitDefault;
  /** `DATABASE_URL` shares sessions between transactions (a transaction-mode pooler). */
  pooled: boolean;
  /** The session URL (the LISTEN connection) is a transaction-mode pooler too: live updates can be lost. */
  listenThroughPooler: boolean;
}

/**
 * Probes the pool's URL (and the direct URL, when there is one) and decides (see
 * `preparedStatementsFor`, `ensureJitOff`). Throws `PoolerSetupError` for `on` where
 * prepared statements do not survive.
 */
export async function poolingOf(
  url: string,
  directUrl: string | undefined,
  mode: PrepareMode,
): Promise<Pooling> {
  // JIT first: the probe's own server connections then start with the role's new default.
  const jit = (await acceptsJitParameter(url)) ? 'parameter' : 'default';
  const jitDefault = jit === 'default' ? await ensureJitOff(url) : undefined;
  const pool = await probeSessions(url);
  const prepared = preparedStatementsFor(mode, pool);
  const session = directUrl && directUrl !== url ? await probeSessions(directUrl) : pool;
  return {
    prepared,
    jit,
    ...(jitDefault ? { jitDefault } : {}),
    pooled: pool.sharesSessions,
    listenThroughPooler: session.sharesSessions,
  };
}
