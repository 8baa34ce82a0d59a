/**
 * `npm run schema:print`: writes the schema as SDL to `schema/schema.graphql`, the contract
 * partners read. A test fails when the committed file differs from the code.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { printSchema } from 'graphql';
import { schema } from './index.js';

/** Path of the committed SDL file. */
export const schemaFile = fileURLToPath(new URL('../../schema/schema.graphql', import.meta.url));

/** The SDL as committed: printed schema plus a trailing newline. */
export const printedSchema = () => `${printSchema(schema)}\n`;

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(schemaFile, printedSchema());
  console.log(`wrote ${schemaFile}`);
}
