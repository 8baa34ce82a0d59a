/**
 * The sync's wiring: the upstream client a sync uses (the CLI's and the scheduler's), and the
 * scheduled Federal Register sync of a gateway instance (`CHIPGATE_SYNC_FR_CRON`).
 */
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { DatabaseHandle } from '../db/client.js';
import { type Env, sourcesConfigOf } from '../env.js';
import { FEDERAL_REGISTER_POLICY, FederalRegisterClient } from '../sources/federal-register.js';
import { Source } from '../sources/http.js';
import { CHIPGATE_USER_AGENT } from '../sources/index.js';
import { createSyncMetrics } from './metrics.js';
import { type SyncScheduler, startSyncScheduler } from './scheduler.js';

/**
 * A Federal Register client for a sync, with its own source (not the gateway's cache): a page
 * of 100 documents takes longer than a GraphQL field may, so each call gets 30 s at least.
 * Close the source when done.
 */
export function createSyncClient(env: Env): { client: FederalRegisterClient; source: Source } {
  const settings = sourcesConfigOf(env).federalRegister;
  const source = new Source(
    'federal-register',
    { ...settings, timeoutMs: Math.max(settings.timeoutMs, 30_000) },
    { ...FEDERAL_REGISTER_POLICY, userAgent: CHIPGATE_USER_AGENT },
  );
  return { client: new FederalRegisterClient(source, settings.baseUrl), source };
}

/**
 * Starts this instance's share of the scheduled sync when `CHIPGATE_SYNC_FR_CRON` is set
 * (undefined otherwise): its metrics in `registry`, its job queue worker and ticker. `stop()`
 * before closing the database.
 */
export async function startScheduledSync(
  env: Env,
  handle: DatabaseHandle,
  log: Logger,
  registry: Registry,
): Promise<SyncScheduler | undefined> {
  if (!env.CHIPGATE_SYNC_FR_CRON) return undefined;
  const { client, source } = createSyncClient(env);
  const scheduler = await startSyncScheduler({
    handle,
    cron: env.CHIPGATE_SYNC_FR_CRON,
    windowDays: env.CHIPGATE_SYNC_FR_WINDOW_DAYS,
    client,
    log,
    observer: createSyncMetrics(registry),
  }).catch(async (error: unknown) => {
    await source.close();
    throw error;
  });
  log.info(
    { cron: env.CHIPGATE_SYNC_FR_CRON, next: scheduler.nextDue() },
    'scheduled Federal Register sync on',
  );
  return {
    nextDue: () => scheduler.nextDue(),
    async stop() {
      try {
        await scheduler.stop();
      } finally {
        await source.close();
      }
    },
  };
}
