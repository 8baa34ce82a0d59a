CREATE TABLE "api_key_usage" (
	"api_key_id" integer,
	"day" date,
	"requests" bigint DEFAULT 0 NOT NULL,
	"cost" bigint DEFAULT 0 NOT NULL,
	"errors" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "api_key_usage_pkey" PRIMARY KEY("api_key_id","day")
);
--> statement-breakpoint
CREATE TABLE "trusted_documents" (
	"id" integer PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "trusted_documents_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 START WITH 1 CACHE 1),
	"hash" text NOT NULL,
	"api_key_id" integer,
	"document" text NOT NULL,
	"cost" integer,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "trusted_documents_hash_key" UNIQUE NULLS NOT DISTINCT("hash","api_key_id"),
	CONSTRAINT "trusted_documents_hash_sha256" CHECK ("hash" ~ '^[0-9a-f]{64}$')
);
--> statement-breakpoint
ALTER TABLE "api_keys" ADD COLUMN "rate_limit" integer;--> statement-breakpoint
ALTER TABLE "api_keys" ADD COLUMN "cost_limit" integer;--> statement-breakpoint
ALTER TABLE "api_keys" ADD COLUMN "max_subscriptions" integer;--> statement-breakpoint
ALTER TABLE "api_keys" ADD COLUMN "persisted_only" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "api_key_usage" ADD CONSTRAINT "api_key_usage_api_key_id_api_keys_id_fkey" FOREIGN KEY ("api_key_id") REFERENCES "api_keys"("id") ON DELETE CASCADE;--> statement-breakpoint
ALTER TABLE "trusted_documents" ADD CONSTRAINT "trusted_documents_api_key_id_api_keys_id_fkey" FOREIGN KEY ("api_key_id") REFERENCES "api_keys"("id") ON DELETE CASCADE;--> statement-breakpoint
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_rate_limit_positive" CHECK ("rate_limit" is null or "rate_limit" > 0);--> statement-breakpoint
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_cost_limit_positive" CHECK ("cost_limit" is null or "cost_limit" > 0);--> statement-breakpoint
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_max_subscriptions_not_negative" CHECK ("max_subscriptions" is null or "max_subscriptions" >= 0);