/**
 * What a viewer may do, as the schema checks it: the scope map of `@pothos/plugin-scope-auth`
 * (`authScopes` in src/builder.ts) and the facts of a viewer that can change an operation's
 * result. One definition for both, so subscription cohorts (src/pubsub/shared-execution.ts)
 * never share a result between viewers the schema would answer differently.
 */
import type { Viewer } from './auth.js';

/** The scope-auth scopes a viewer holds: `write` = an API key with the `write` scope. */
export function authScopesOf(viewer: Viewer): { write: boolean } {
  return { write: viewer.kind === 'apiKey' && viewer.scopes.includes('write') };
}

/**
 * The facts of a viewer that can change a result, as a string: its kind (the wording of an
 * authorization error differs) and its scopes, never the key's id or name, so keys with the
 * same scopes share one execution and one serialisation per event.
 */
export function resultFactsOf(viewer: Viewer | undefined): string {
  if (!viewer || viewer.kind === 'anonymous') return 'anonymous';
  return `apiKey:${[...viewer.scopes].sort().join(',')}`;
}
