/**
 * Per-request DataLoaders, made one way: a module declares a loader once (`defineLoader`: its
 * batch function and cache key), and each request's context creates that loader the first time
 * a resolver asks (`ctx.loaders.load(loader, key)`). Batching and caching therefore never cross
 * requests, and no module keeps state of its own.
 */
import DataLoader from 'dataloader';

/**
 * A declared loader: how to load many keys at once, and what makes two keys the same. `C` is
 * what its batch function reads of the request's context (`{ db: Database }`, ...): a loader
 * depends on what it uses, not on the whole context.
 */
export interface LoaderDefinition<K, V, C = unknown> {
  /** Loads `keys` in one go: a value (or an `Error`) per key, in key order. */
  batch(ctx: C, keys: readonly K[]): Promise<readonly (V | Error)[]>;
  /** The cache key of `key` (keys with the same string are loaded once per request). */
  key(key: K): string;
  /** Most keys per batch (default: all the keys of one tick). */
  maxBatchSize?: number;
}

/** Declares a loader (see the module comment). */
export function defineLoader<K, V, C = unknown>(
  definition: LoaderDefinition<K, V, C>,
): LoaderDefinition<K, V, C> {
  return definition;
}

/** The loaders of one request (whose context is a `C`), created on first use. */
export class Loaders<C> {
  readonly #loaders = new Map<
    LoaderDefinition<never, unknown, C>,
    DataLoader<unknown, unknown, string>
  >();
  readonly #context: () => C;

  /** `context` returns the request's context (the loaders are part of it). */
  constructor(context: () => C) {
    this.#context = context;
  }

  /** Loads `key` with the request's instance of `definition`. */
  load<K, V>(definition: LoaderDefinition<K, V, C>, key: K): Promise<V> {
    let loader = this.#loaders.get(definition as LoaderDefinition<never, unknown, C>) as
      | DataLoader<K, V, string>
      | undefined;
    if (!loader) {
      loader = new DataLoader<K, V, string>((keys) => definition.batch(this.#context(), keys), {
        cacheKeyFn: (k) => definition.key(k),
        ...(definition.maxBatchSize ? { maxBatchSize: definition.maxBatchSize } : {}),
      });
      this.#loaders.set(
        definition as LoaderDefinition<never, unknown, C>,
        loader as DataLoader<unknown, unknown, string>,
      );
    }
    return loader.load(key);
  }
}
