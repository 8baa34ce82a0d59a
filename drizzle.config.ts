import { defineConfig } from 'drizzle-kit';

// drizzle-kit only diffs the table definitions against its own snapshots to write SQL;
// it never connects, so no credentials are needed to generate a migration.
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/db/schema.ts',
  out: './drizzle',
});
