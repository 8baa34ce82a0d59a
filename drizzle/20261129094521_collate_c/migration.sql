-- Slugs and names sort byte-wise (the C collation) on every server, as they do on PGlite, so
-- ordering and keyset cursors agree everywhere. drizzle's column builders have no collation,
-- hence this hand-written step.
ALTER TABLE "companies" ALTER COLUMN "slug" TYPE text COLLATE "C";
--> statement-breakpoint
ALTER TABLE "companies" ALTER COLUMN "name" TYPE text COLLATE "C";
--> statement-breakpoint
ALTER TABLE "chips" ALTER COLUMN "slug" TYPE text COLLATE "C";
--> statement-breakpoint
ALTER TABLE "chips" ALTER COLUMN "name" TYPE text COLLATE "C";
--> statement-breakpoint
ALTER TABLE "policy_decisions" ALTER COLUMN "slug" TYPE text COLLATE "C";
--> statement-breakpoint
ALTER TABLE "demand_signals" ALTER COLUMN "slug" TYPE text COLLATE "C";
