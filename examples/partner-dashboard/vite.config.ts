/**
 * Builds the partner dashboard with the repository's own Vite (no install of its own):
 *
 *   npx vite build -c examples/partner-dashboard/vite.config.ts   # -> examples/partner-dashboard/dist
 *
 * Besides the page, the build writes `dist/persisted-documents.json`, the trusted-documents
 * manifest of the page's operations (`{ "<sha256 of the document>": "<document>" }`), for
 * `npm run chipgate -- documents add --key ID dist/persisted-documents.json`. The page itself
 * holds each document with its hash and sends only the hash.
 *
 * `DASHBOARD_DEFER=off` builds the documents without `@defer` (for a gateway that does not
 * support incremental delivery); the sources then arrive with the rest of the answer.
 */
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';
import { OPERATIONS, type OperationName } from './src/operations.js';

/** A document as the page sends it: its SHA-256 (the trusted document's id) and its text. */
interface BuiltDocument {
  id: string;
  text: string;
}

/** The documents of this build, by operation name. */
function buildDocuments(defer: boolean): Record<OperationName, BuiltDocument> {
  const entries = Object.entries(OPERATIONS).map(([name, source]) => {
    const text = defer ? source : source.replace(/ @defer(\([^)]*\))?/g, '');
    const id = createHash('sha256').update(text, 'utf8').digest('hex');
    return [name, { id, text }];
  });
  return Object.fromEntries(entries) as Record<OperationName, BuiltDocument>;
}

/** Emits `persisted-documents.json`, the manifest `documents add` registers. */
function persistedDocuments(documents: Record<OperationName, BuiltDocument>): Plugin {
  return {
    name: 'chipgate-persisted-documents',
    generateBundle() {
      const manifest = Object.fromEntries(Object.values(documents).map((d) => [d.id, d.text]));
      this.emitFile({
        type: 'asset',
        fileName: 'persisted-documents.json',
        source: `${JSON.stringify(manifest, null, 2)}\n`,
      });
    },
  };
}

export default defineConfig(() => {
  const deferEnv = process.env.DASHBOARD_DEFER ?? 'on';
  if (deferEnv !== 'on' && deferEnv !== 'off') {
    throw new Error(`DASHBOARD_DEFER must be "on" or "off", not "${deferEnv}".`);
  }
  const documents = buildDocuments(deferEnv === 'on');
  return {
    root: fileURLToPath(new URL('.', import.meta.url)),
    // Relative asset URLs: the built page works from any directory of any static host.
    base: './',
    define: { __DASHBOARD_DOCUMENTS__: JSON.stringify(documents) },
    plugins: [persistedDocuments(documents)],
    build: { target: 'es2022', emptyOutDir: true },
  };
});
