/**
 * Snapshots fail when missing, locally too: vitest's default writes a missing snapshot and
 * passes unless CI is set; vitest.config.ts sets `update: 'none'`. This reads the resolved
 * configuration of every project the way `vitest run` resolves it, without CI in the
 * environment.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createVitest, type Vitest } from 'vitest/node';

describe('snapshots', () => {
  let vitest: Vitest;
  const ci = process.env.CI;
  beforeAll(async () => {
    delete process.env.CI;
    vitest = await createVitest('test', { config: 'vitest.config.ts', watch: false });
  });
  afterAll(async () => {
    if (ci !== undefined) process.env.CI = ci;
    await vitest?.close();
  });

  it('are never written by a run: a missing snapshot fails (both projects, CI unset)', () => {
    expect(vitest.config.snapshotOptions.updateSnapshot).toBe('none');
    expect(vitest.projects.map((project) => project.name).sort()).toEqual(['e2e', 'unit']);
    // What the workers of each project get (vitest takes it from the root configuration).
    for (const project of vitest.projects) {
      expect(project.serializedConfig.snapshotOptions.updateSnapshot, project.name).toBe('none');
    }
  });
});
