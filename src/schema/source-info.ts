/**
 * `SourceInfo`: the provenance of a value fetched from an external source (which source, when,
 * fresh or stale). Every external type carries one; `extensions.sources` of the response lists
 * the same for every upstream resource the response used.
 */
import { builder } from '../builder.js';
import type { SourceInfo as SourceInfoShape } from '../sources/http.js';

/** `SourceInfo { source fetchedAt stale }`: provenance of an external value. */
export const SourceInfo = builder.objectRef<SourceInfoShape>('SourceInfo').implement({
  description:
    'Where an external value came from and how fresh it is. chipgate caches upstream answers ' +
    '(Federal Register and SEC for hours, news feeds for minutes); when an upstream fails and ' +
    'an expired copy exists, that copy is served with `stale: true` rather than nothing.',
  fields: (t) => ({
    source: t.exposeString('source', {
      description:
        'The upstream: `federal-register` (federalregister.gov API), `sec-edgar` (SEC EDGAR ' +
        'XBRL company facts) or `news` (the RSS/Atom feeds this gateway is configured with).',
    }),
    fetchedAt: t.expose('fetchedAt', {
      type: 'DateTime',
      description: 'When the upstream last answered for this value (UTC).',
    }),
    stale: t.exposeBoolean('stale', {
      description:
        'True when the value is older than its cache lifetime and was served because the ' +
        'upstream failed just now; false when it is within its cache lifetime.',
    }),
  }),
});
