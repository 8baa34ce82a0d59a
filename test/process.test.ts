/**
 * The gateway as a process (`node --import tsx src/server.ts`, what `npm start` runs): bad
 * configuration, the embedded database's persistence and directory lock, graceful shutdown, and
 * time-zone independence. Children listen on free ports of 127.0.0.1 only.
 */

import { once } from 'node:events';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { hostname } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { acquireDirectoryLock, DirectoryLockedError, type LockOwner } from '../src/db/lock.js';
import { loadEnv } from '../src/env.js';
import { startGateway } from '../src/server.js';
import { DELIBERATION } from './helpers/queries.js';
import {
  type ChildGateway,
  freePort,
  gatewayDatabase,
  killChildren,
  makeTempDir,
  messages,
  postGraphQL,
  removeTempDirs,
  seededPgliteDir,
  spawnGateway,
  spawnLockHolder,
  startChildGateway,
} from './helpers/server.js';

// Every test here starts gateway processes (a cold embedded start takes several seconds, more
// on a loaded machine); each has its own deadlines for what it waits on.
vi.setConfig({ testTimeout: 120_000 });

afterAll(async () => {
  await killChildren();
  removeTempDirs();
});

async function deliberation(gateway: ChildGateway) {
  const { status, body } = await postGraphQL(gateway.url, DELIBERATION);
  expect(status).toBe(200);
  expect(body.errors).toBeUndefined();
  return body.data;
}

describe('bad configuration', () => {
  it.each([
    [{ CHIPGATE_PORT: 'abc' }, ['CHIPGATE_PORT="abc"', 'TCP port']],
    [{ DATABASE_URL: 'not-a-url' }, ['DATABASE_URL=(value hidden)', 'postgres://']],
    [
      { CHIPGATE_PORT: '70000', CHIPGATE_LOG_LEVEL: 'loud' },
      ['CHIPGATE_PORT="70000"', 'CHIPGATE_LOG_LEVEL="loud"'],
    ],
    [
      { CHIPGATE_DATABASE_PREPARE: 'maybe' },
      ['CHIPGATE_DATABASE_PREPARE="maybe"', 'auto, on or off'],
    ],
    [
      { CHIPGATE_DATABASE_DIRECT_URL: 'postgres://u:not-a-url@127.0.0.1/db' },
      ['CHIPGATE_DATABASE_DIRECT_URL=(value hidden)', 'needs DATABASE_URL'],
    ],
  ])('%j: exit code 2 naming the variable, before opening anything', async (vars, expected) => {
    // memory://: were the configuration accepted after all, nothing on disk is touched.
    const gateway = spawnGateway({ CHIPGATE_PGLITE_DIR: 'memory://', ...vars });
    const status = await gateway.waitForExit(60_000);
    expect(status).toEqual({ code: 2, signal: null });
    const stderr = gateway.stderr();
    expect(stderr).toMatch(/^chipgate: Invalid configuration:/);
    for (const text of expected) expect(stderr).toContain(text);
    // The URL may carry a password: never echoed.
    expect(stderr).not.toContain('not-a-url');
    expect(stderr).not.toMatch(/\n\s+at /);
    expect(messages(gateway)).toEqual([]);
  });

  it('a port in use: exit code 1 naming CHIPGATE_PORT', async () => {
    const [mine, theirs] = await Promise.all([gatewayDatabase(), gatewayDatabase()]);
    const holder = await startChildGateway(mine.env);
    const port = new URL(holder.url).port;
    const second = spawnGateway({ ...theirs.env, CHIPGATE_PORT: port });
    expect(await second.waitForExit(60_000)).toEqual({ code: 1, signal: null });
    expect(second.stderr()).toBe(
      `chipgate: cannot listen on 127.0.0.1:${port} (EADDRINUSE); set CHIPGATE_PORT to a free port.\n`,
    );
    expect((await deliberation(holder)).policyDecision.status).toBe('SUPERSEDED');
    expect(await holder.stop()).toEqual({ code: 0, signal: null });
    await Promise.all([mine.cleanup(), theirs.cleanup()]);
  });
});

/** Who holds the PGlite directory's lock, as its owner file says. */
function lockOwner(dir: string): LockOwner | undefined {
  if (!existsSync(`${dir}.lock`)) return undefined;
  return JSON.parse(readFileSync(`${dir}.lock.owner`, 'utf8')) as LockOwner;
}

describe('the embedded database (PGlite directory)', () => {
  it('in process: a taken port rejects startGateway and releases the directory lock', async () => {
    const holder = createServer();
    holder.listen(0, '127.0.0.1');
    await once(holder, 'listening');
    const { port } = holder.address() as AddressInfo;
    const dir = await seededPgliteDir();
    try {
      const env = {
        ...loadEnv({ CHIPGATE_PGLITE_DIR: dir, CHIPGATE_LOG_LEVEL: 'silent' }),
        CHIPGATE_PORT: port,
      };
      await expect(startGateway(env)).rejects.toMatchObject({ code: 'EADDRINUSE' });
      expect(existsSync(`${dir}.lock`)).toBe(false);
    } finally {
      holder.close();
    }
  });

  it('persists across a SIGTERM restart, stops cleanly, and seeds only once', async () => {
    const dir = path.join(makeTempDir(), 'pgdata');
    const first = await startChildGateway({ CHIPGATE_PGLITE_DIR: dir });
    // A new directory starts as a copy of the migrated, seeded template (test/template.test.ts).
    const copied = first.logs.find((line) => line.msg === 'new PGlite directory from the template');
    expect(copied?.directory).toBe(dir);
    expect(first.logs.find((line) => line.msg.startsWith('chipgate listening'))?.database).toBe(
      `pglite:${dir}`,
    );
    const before = await deliberation(first);
    expect(before.policyDecision.updates).toEqual([
      { fromStatus: null, toStatus: 'UNDER_REVIEW', occurredAt: '2025-12-09T00:00:00.000Z' },
      {
        fromStatus: 'UNDER_REVIEW',
        toStatus: 'SUPERSEDED',
        occurredAt: '2026-01-13T00:00:00.000Z',
      },
    ]);
    expect(lockOwner(dir)?.pid).toBe(first.pid);

    expect(await first.stop()).toEqual({ code: 0, signal: null });
    expect(messages(first).slice(-2)).toEqual(['shutting down', 'stopped cleanly']);
    expect(first.logs.find((line) => line.msg === 'shutting down')?.signal).toBe('SIGTERM');
    expect(existsSync(`${dir}.lock`)).toBe(false);
    expect(first.stderr()).toBe('');

    const second = await startChildGateway({ CHIPGATE_PGLITE_DIR: dir });
    expect(messages(second)).not.toContain('seeded the empty embedded database');
    expect(messages(second)).not.toContain('new PGlite directory from the template');
    expect(await deliberation(second)).toEqual(before);
    expect(before.policyDecision.updates).toHaveLength(2);
    expect(before.companies.totalCount).toBe(15);
    // SIGINT (Ctrl-C) shuts down the same way.
    second.child.kill('SIGINT');
    expect(await second.waitForExit()).toEqual({ code: 0, signal: null });
    expect(second.logs.find((line) => line.msg === 'shutting down')?.signal).toBe('SIGINT');
    expect(messages(second).at(-1)).toBe('stopped cleanly');
  });

  it('SIGTERM during start-up (right after the template copy) stops cleanly once up', async () => {
    const dir = path.join(makeTempDir(), 'pgdata');
    const starting = spawnGateway({
      CHIPGATE_PGLITE_DIR: dir,
      CHIPGATE_PORT: String(await freePort()),
    });
    await starting.waitForLog('new PGlite directory from the template');
    starting.child.kill('SIGTERM');
    expect(await starting.waitForExit()).toEqual({ code: 0, signal: null });
    expect(messages(starting)).toContain('shutting down');
    expect(messages(starting).at(-1)).toBe('stopped cleanly');
    expect(existsSync(`${dir}.lock`)).toBe(false);

    const again = await startChildGateway({ CHIPGATE_PGLITE_DIR: dir });
    expect(messages(again)).not.toContain('new PGlite directory from the template');
    expect((await deliberation(again)).policyDecision.updates).toHaveLength(2);
    expect(await again.stop()).toEqual({ code: 0, signal: null });
  });

  it('refuses a second process on the same directory; the first keeps serving', async () => {
    const dir = await seededPgliteDir();
    const first = await startChildGateway({ CHIPGATE_PGLITE_DIR: dir });
    const second = spawnGateway({
      CHIPGATE_PGLITE_DIR: dir,
      CHIPGATE_PORT: String(await freePort()),
    });
    expect(await second.waitForExit(60_000)).toEqual({ code: 1, signal: null });
    const stderr = second.stderr();
    expect(stderr).toContain(
      `chipgate: The embedded database at ${dir} is in use by process ${first.pid}`,
    );
    expect(stderr).toContain('DATABASE_URL');
    expect(stderr).not.toMatch(/\n\s+at /);
    expect(messages(second)).not.toContainEqual(expect.stringMatching(/listening/));
    // The refused process did not take or remove the lock.
    expect(lockOwner(dir)?.pid).toBe(first.pid);
    expect((await deliberation(first)).policyDecision.updates).toHaveLength(2);
    expect(await first.stop()).toEqual({ code: 0, signal: null });
  });

  it('trusts the heartbeat, not a pid: a holder elsewhere with our own pid keeps the lock until it stops', async () => {
    const dir = path.join(makeTempDir(), 'pgdata');
    // Another container on a shared volume: its own pid namespace (so perhaps our pid, or 1)
    // and its own host name. Here a child process holds the lock and claims to be that.
    const holder = await spawnLockHolder(
      dir,
      { staleMs: 2000, updateMs: 200 },
      { pid: process.pid, host: 'container-a' },
    );
    try {
      const refused = await acquireDirectoryLock(dir, { staleMs: 2000 }).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(refused).toBeInstanceOf(DirectoryLockedError);
      expect((refused as Error).message).toContain(
        `in use by process ${process.pid} on host container-a`,
      );
    } finally {
      holder.kill('SIGKILL');
      await once(holder, 'exit');
    }
    // Its heartbeat stopped: after 2 s the lock is stale and taken over.
    const lock = await vi.waitFor(() => acquireDirectoryLock(dir, { staleMs: 2000 }), {
      timeout: 15_000,
      interval: 250,
    });
    expect(lockOwner(dir)).toEqual({ pid: process.pid, host: hostname() });
    await lock.release();
    expect(existsSync(`${dir}.lock`)).toBe(false);
  });

  it('takes over a stale lock (its process is gone)', async () => {
    const dir = await seededPgliteDir();
    const dead = spawnGateway({ CHIPGATE_PGLITE_DIR: 'memory://', CHIPGATE_PORT: 'abc' });
    await dead.waitForExit(60_000);
    // A lock left by a holder on this host that is gone (kill -9): taken over at once.
    mkdirSync(`${dir}.lock`);
    writeFileSync(`${dir}.lock.owner`, JSON.stringify({ pid: dead.pid, host: hostname() }));
    const gateway = await startChildGateway({ CHIPGATE_PGLITE_DIR: dir });
    expect(lockOwner(dir)?.pid).toBe(gateway.pid);
    expect((await deliberation(gateway)).policyDecision.status).toBe('SUPERSEDED');
    expect(await gateway.stop()).toEqual({ code: 0, signal: null });
    expect(existsSync(`${dir}.lock`)).toBe(false);
  });
});

describe('time zones', () => {
  const DATES = /* GraphQL */ `{
    chips(first: 100) {
      edges { node { slug announcedOn status: exportStatus(asOf: "2026-01-20") { asOf importEffect importDecision { slug } } } }
    }
    policyDecisions(first: 100) {
      edges { node { slug announcedOn effectiveOn publishedOn updates { occurredAt toStatus } } }
    }
    demandSignals(first: 100) {
      edges { node { slug observedOn valueUsd valueOriginal { amount currency } } }
    }
    timeline(first: 100, filter: { from: "2025-12-09", to: "2025-12-10" }) {
      edges { node { __typename ... on PolicyDecision { slug } ... on PolicyDecisionUpdate { occurredAt } ... on DemandSignal { slug } } }
    }
  }`;

  it('answers the same dates, times and amounts whatever TZ the process runs in', async () => {
    const zones = ['UTC', 'Asia/Shanghai', 'America/Los_Angeles'];
    // One after another: three cold starts at once on a shared 2-core machine take longer than
    // the whole test needs otherwise.
    const databases: Awaited<ReturnType<typeof gatewayDatabase>>[] = [];
    const gateways: ChildGateway[] = [];
    for (const TZ of zones) {
      const database = await gatewayDatabase();
      databases.push(database);
      gateways.push(await startChildGateway({ ...database.env, TZ }));
    }
    const answers = await Promise.all(gateways.map((gateway) => postGraphQL(gateway.url, DATES)));
    for (const answer of answers) {
      expect(answer.status).toBe(200);
      expect(answer.body.errors).toBeUndefined();
    }
    const [utc, ...others] = answers.map((answer) => answer.body.data);
    for (const other of others) expect(other).toEqual(utc);

    // And they are the right ones, not merely consistent.
    const decision = utc.policyDecisions.edges.find(
      (e: any) => e.node.slug === 'cn-2025-12-09-h200-import-deliberation',
    ).node;
    expect(decision.announcedOn).toBe('2025-12-09');
    expect(decision.updates.map((u: any) => u.occurredAt)).toEqual([
      '2025-12-09T00:00:00.000Z',
      '2026-01-13T00:00:00.000Z',
    ]);
    const signal = utc.demandSignals.edges.find(
      (e: any) => e.node.slug === 'ds-2026-01-28-h200-400k-approved',
    ).node;
    expect(signal.observedOn).toBe('2026-01-28');
    const h200 = utc.chips.edges.find((e: any) => e.node.slug === 'h200').node;
    expect(h200.status).toEqual({
      asOf: '2026-01-20',
      importEffect: 'BANNED',
      importDecision: { slug: 'cn-customs-2026-01-13-h200-not-permitted' },
    });
    for (const edge of utc.demandSignals.edges) {
      expect(edge.node.observedOn).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      if (edge.node.valueUsd !== null) expect(edge.node.valueUsd).toMatch(/^\d+(\.\d+)?$/);
    }
    expect(utc.demandSignals.edges.some((e: any) => e.node.valueUsd !== null)).toBe(true);
    expect(utc.timeline.edges.length).toBeGreaterThan(0);

    for (const gateway of gateways) expect(await gateway.stop()).toEqual({ code: 0, signal: null });
    await Promise.all(databases.map((database) => database.cleanup()));
  }, 180_000);
});
