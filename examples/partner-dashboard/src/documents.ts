/**
 * The page's operations as the build registered them: text and SHA-256 id, by operation name
 * (see vite.config.ts, which computes them from operations.ts).
 */
import type { OperationName } from './operations.js';

/** A built document: its trusted-document id (SHA-256 of `text`) and its text. */
export interface BuiltDocument {
  id: string;
  text: string;
}

declare const __DASHBOARD_DOCUMENTS__: Record<OperationName, BuiltDocument>;

/** The documents of this build, by operation name. */
export const documents: Record<OperationName, BuiltDocument> = __DASHBOARD_DOCUMENTS__;

/** The trusted-document id of the operation `name` (undefined: not one of ours). */
export function documentIdOf(name: string): string | undefined {
  return Object.hasOwn(documents, name) ? documents[name as OperationName].id : undefined;
}
