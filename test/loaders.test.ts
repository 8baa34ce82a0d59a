/**
 * Per-request loaders (`defineLoader` + `Loaders`): keys of one tick go in one batch, split at
 * the definition's `maxBatchSize`, each key loaded once per request.
 */
import { describe, expect, it } from 'vitest';
import type { Context } from '../src/context.js';
import { defineLoader, Loaders } from '../src/loaders.js';

/** A loader that doubles numbers and records each batch it was asked for. */
function doubling(maxBatchSize?: number) {
  const batches: number[][] = [];
  const definition = defineLoader<number, number>({
    key: (n) => String(n),
    ...(maxBatchSize ? { maxBatchSize } : {}),
    async batch(_ctx, keys) {
      batches.push([...keys]);
      return keys.map((n) => n * 2);
    },
  });
  return { definition, batches };
}

const noContext = () => ({}) as Context;

describe('defineLoader', () => {
  it('splits the keys of one tick at maxBatchSize and answers each in order', async () => {
    const { definition, batches } = doubling(100);
    const loaders = new Loaders(noContext);
    const keys = Array.from({ length: 250 }, (_, i) => i);
    const values = await Promise.all(keys.map((k) => loaders.load(definition, k)));
    expect(values).toEqual(keys.map((k) => k * 2));
    expect(batches.map((batch) => batch.length)).toEqual([100, 100, 50]);
  });

  it('without maxBatchSize, loads one tick in one batch, and a key once per request', async () => {
    const { definition, batches } = doubling();
    const loaders = new Loaders(noContext);
    const keys = [...Array.from({ length: 250 }, (_, i) => i), 7, 7];
    await Promise.all(keys.map((k) => loaders.load(definition, k)));
    expect(batches.map((batch) => batch.length)).toEqual([250]);
    expect(await loaders.load(definition, 7)).toBe(14);
    expect(batches).toHaveLength(1);
  });
});
