CREATE TYPE "company_role" AS ENUM('DESIGNER', 'FOUNDRY', 'MEMORY_SUPPLIER', 'BUYER', 'DOMESTIC_ALTERNATIVE');--> statement-breakpoint
CREATE TYPE "demand_signal_kind" AS ENUM('ORDER', 'INTEREST', 'PRODUCTION_RAMP', 'REVENUE', 'WRITE_DOWN');--> statement-breakpoint
CREATE TYPE "fact_confidence" AS ENUM('VERIFIED', 'RECALLED');--> statement-breakpoint
CREATE TYPE "policy_effect" AS ENUM('PERMITTED', 'PERMITTED_WITH_CONDITIONS', 'LICENSE_REQUIRED', 'RESTRICTED', 'DISCOURAGED', 'BANNED', 'UNDER_REVIEW');--> statement-breakpoint
CREATE TYPE "policy_kind" AS ENUM('EXPORT_RULE', 'LICENSE', 'IMPORT_GUIDANCE', 'BAN', 'INVESTIGATION', 'TARIFF');--> statement-breakpoint
CREATE TYPE "policy_status" AS ENUM('PROPOSED', 'UNDER_REVIEW', 'APPROVED', 'IN_EFFECT', 'SUPERSEDED', 'RESCINDED', 'REJECTED', 'SUSPENDED');--> statement-breakpoint
CREATE TYPE "signal_direction" AS ENUM('POSITIVE', 'NEGATIVE', 'NEUTRAL');--> statement-breakpoint
CREATE TYPE "signal_strength" AS ENUM('LOW', 'MEDIUM', 'HIGH');--> statement-breakpoint
CREATE SEQUENCE "public"."chipgate_event_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1;--> statement-breakpoint
CREATE TABLE "chips" (
	"id" integer PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "chips_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 START WITH 1 CACHE 1),
	"slug" text NOT NULL UNIQUE,
	"name" text NOT NULL,
	"designer_id" integer NOT NULL,
	"foundry_id" integer,
	"derived_from_id" integer,
	"architecture" text,
	"launch_year" smallint,
	"announced_on" date,
	"process_node" text,
	"memory_gb" double precision,
	"memory_type" text,
	"memory_bandwidth_tbs" double precision,
	"fp16_dense_tflops" double precision,
	"fp8_dense_tflops" double precision,
	"tdp_watts" integer,
	"die_area_mm2" double precision,
	"interconnect_gbs" double precision,
	"tpp" double precision,
	"performance_density" double precision,
	"derived_fields" text[] DEFAULT '{}'::text[] NOT NULL,
	"designed_for_china_market" boolean DEFAULT false NOT NULL,
	"export_control_note" text,
	"source_url" text,
	"confidence" "fact_confidence" NOT NULL,
	"notes" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "chips_slug_format" CHECK ("slug" ~ '^[a-z0-9]+(-[a-z0-9]+)*$' and length("slug") <= 100)
);
--> statement-breakpoint
CREATE TABLE "companies" (
	"id" integer PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "companies_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 START WITH 1 CACHE 1),
	"slug" text NOT NULL UNIQUE,
	"name" text NOT NULL,
	"country" char(2) NOT NULL,
	"roles" "company_role"[] NOT NULL,
	"listings" jsonb DEFAULT '[]' NOT NULL,
	"sec_cik" text,
	"sec_filer_type" text,
	"source_url" text,
	"confidence" "fact_confidence" NOT NULL,
	"notes" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "companies_slug_format" CHECK ("slug" ~ '^[a-z0-9]+(-[a-z0-9]+)*$' and length("slug") <= 100),
	CONSTRAINT "companies_country_format" CHECK ("country" ~ '^[A-Z]{2}$'),
	CONSTRAINT "companies_sec_cik_format" CHECK ("sec_cik" ~ '^[0-9]{1,10}$')
);
--> statement-breakpoint
CREATE TABLE "demand_signal_companies" (
	"signal_id" integer,
	"company_id" integer,
	"position" smallint DEFAULT 0 NOT NULL,
	CONSTRAINT "demand_signal_companies_pkey" PRIMARY KEY("signal_id","company_id")
);
--> statement-breakpoint
CREATE TABLE "demand_signals" (
	"id" integer PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "demand_signals_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 START WITH 1 CACHE 1),
	"slug" text NOT NULL UNIQUE,
	"chip_id" integer,
	"kind" "demand_signal_kind" NOT NULL,
	"observed_on" date NOT NULL,
	"quantity_units" integer,
	"value_usd" numeric,
	"value_original_amount" numeric,
	"value_original_currency" char(3),
	"direction" "signal_direction",
	"strength" "signal_strength",
	"reported_by" text,
	"summary" text,
	"event_seq" bigint DEFAULT nextval('chipgate_event_seq') NOT NULL UNIQUE,
	"source_url" text,
	"confidence" "fact_confidence" NOT NULL,
	"notes" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "demand_signals_slug_format" CHECK ("slug" ~ '^[a-z0-9]+(-[a-z0-9]+)*$' and length("slug") <= 100),
	CONSTRAINT "demand_signals_quantity_nonnegative" CHECK ("quantity_units" >= 0)
);
--> statement-breakpoint
CREATE TABLE "policy_decision_chips" (
	"decision_id" integer,
	"chip_id" integer,
	"effect" "policy_effect" NOT NULL,
	CONSTRAINT "policy_decision_chips_pkey" PRIMARY KEY("decision_id","chip_id")
);
--> statement-breakpoint
CREATE TABLE "policy_decision_companies" (
	"decision_id" integer,
	"company_id" integer,
	CONSTRAINT "policy_decision_companies_pkey" PRIMARY KEY("decision_id","company_id")
);
--> statement-breakpoint
CREATE TABLE "policy_decision_updates" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "policy_decision_updates_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"decision_id" integer NOT NULL,
	"from_status" "policy_status",
	"to_status" "policy_status" NOT NULL,
	"occurred_at" timestamp with time zone NOT NULL,
	"note" text,
	"event_seq" bigint DEFAULT nextval('chipgate_event_seq') NOT NULL UNIQUE,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "policy_decisions" (
	"id" integer PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "policy_decisions_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 START WITH 1 CACHE 1),
	"slug" text NOT NULL UNIQUE,
	"title" text NOT NULL,
	"summary" text,
	"jurisdiction" char(2) NOT NULL,
	"destinations" text[] DEFAULT '{}'::text[] NOT NULL,
	"authority" text NOT NULL,
	"kind" "policy_kind" NOT NULL,
	"status" "policy_status" NOT NULL,
	"announced_on" date NOT NULL,
	"effective_on" date,
	"published_on" date,
	"revenue_share_percent" double precision,
	"tariff_percent" double precision,
	"federal_register_document_number" text,
	"federal_register_citation" text,
	"regulation_identifier_number" text,
	"presidential_document_number" text,
	"supersedes_id" integer,
	"source_url" text,
	"confidence" "fact_confidence" NOT NULL,
	"notes" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "policy_decisions_slug_format" CHECK ("slug" ~ '^[a-z0-9]+(-[a-z0-9]+)*$' and length("slug") <= 100),
	CONSTRAINT "policy_decisions_jurisdiction_format" CHECK ("jurisdiction" ~ '^[A-Z]{2}$'),
	CONSTRAINT "policy_decisions_effective_after_announced" CHECK ("effective_on" is null or "effective_on" >= "announced_on")
);
--> statement-breakpoint
CREATE INDEX "chips_designer_id_idx" ON "chips" ("designer_id");--> statement-breakpoint
CREATE INDEX "chips_foundry_id_idx" ON "chips" ("foundry_id");--> statement-breakpoint
CREATE INDEX "chips_derived_from_id_idx" ON "chips" ("derived_from_id");--> statement-breakpoint
CREATE INDEX "chips_name_slug_idx" ON "chips" ("name","slug");--> statement-breakpoint
CREATE INDEX "chips_tpp_idx" ON "chips" ("tpp");--> statement-breakpoint
CREATE INDEX "companies_name_slug_idx" ON "companies" ("name","slug");--> statement-breakpoint
CREATE INDEX "demand_signal_companies_company_id_idx" ON "demand_signal_companies" ("company_id");--> statement-breakpoint
CREATE INDEX "demand_signals_chip_id_idx" ON "demand_signals" ("chip_id");--> statement-breakpoint
CREATE INDEX "demand_signals_observed_on_slug_idx" ON "demand_signals" ("observed_on","slug");--> statement-breakpoint
CREATE INDEX "policy_decision_chips_chip_id_idx" ON "policy_decision_chips" ("chip_id");--> statement-breakpoint
CREATE INDEX "policy_decision_companies_company_id_idx" ON "policy_decision_companies" ("company_id");--> statement-breakpoint
CREATE INDEX "policy_decision_updates_decision_id_occurred_at_idx" ON "policy_decision_updates" ("decision_id","occurred_at","id");--> statement-breakpoint
CREATE INDEX "policy_decision_updates_occurred_at_idx" ON "policy_decision_updates" ("occurred_at");--> statement-breakpoint
CREATE INDEX "policy_decisions_announced_on_slug_idx" ON "policy_decisions" ("announced_on","slug");--> statement-breakpoint
CREATE INDEX "policy_decisions_supersedes_id_idx" ON "policy_decisions" ("supersedes_id");--> statement-breakpoint
CREATE INDEX "policy_decisions_federal_register_document_number_idx" ON "policy_decisions" ("federal_register_document_number");--> statement-breakpoint
ALTER TABLE "chips" ADD CONSTRAINT "chips_designer_id_companies_id_fkey" FOREIGN KEY ("designer_id") REFERENCES "companies"("id");--> statement-breakpoint
ALTER TABLE "chips" ADD CONSTRAINT "chips_foundry_id_companies_id_fkey" FOREIGN KEY ("foundry_id") REFERENCES "companies"("id");--> statement-breakpoint
ALTER TABLE "chips" ADD CONSTRAINT "chips_derived_from_id_chips_id_fkey" FOREIGN KEY ("derived_from_id") REFERENCES "chips"("id");--> statement-breakpoint
ALTER TABLE "demand_signal_companies" ADD CONSTRAINT "demand_signal_companies_signal_id_demand_signals_id_fkey" FOREIGN KEY ("signal_id") REFERENCES "demand_signals"("id") ON DELETE CASCADE;--> statement-breakpoint
ALTER TABLE "demand_signal_companies" ADD CONSTRAINT "demand_signal_companies_company_id_companies_id_fkey" FOREIGN KEY ("company_id") REFERENCES "companies"("id") ON DELETE CASCADE;--> statement-breakpoint
ALTER TABLE "demand_signals" ADD CONSTRAINT "demand_signals_chip_id_chips_id_fkey" FOREIGN KEY ("chip_id") REFERENCES "chips"("id");--> statement-breakpoint
ALTER TABLE "policy_decision_chips" ADD CONSTRAINT "policy_decision_chips_decision_id_policy_decisions_id_fkey" FOREIGN KEY ("decision_id") REFERENCES "policy_decisions"("id") ON DELETE CASCADE;--> statement-breakpoint
ALTER TABLE "policy_decision_chips" ADD CONSTRAINT "policy_decision_chips_chip_id_chips_id_fkey" FOREIGN KEY ("chip_id") REFERENCES "chips"("id") ON DELETE CASCADE;--> statement-breakpoint
ALTER TABLE "policy_decision_companies" ADD CONSTRAINT "policy_decision_companies_decision_id_policy_decisions_id_fkey" FOREIGN KEY ("decision_id") REFERENCES "policy_decisions"("id") ON DELETE CASCADE;--> statement-breakpoint
ALTER TABLE "policy_decision_companies" ADD CONSTRAINT "policy_decision_companies_company_id_companies_id_fkey" FOREIGN KEY ("company_id") REFERENCES "companies"("id") ON DELETE CASCADE;--> statement-breakpoint
ALTER TABLE "policy_decision_updates" ADD CONSTRAINT "policy_decision_updates_decision_id_policy_decisions_id_fkey" FOREIGN KEY ("decision_id") REFERENCES "policy_decisions"("id") ON DELETE CASCADE;--> statement-breakpoint
ALTER TABLE "policy_decisions" ADD CONSTRAINT "policy_decisions_supersedes_id_policy_decisions_id_fkey" FOREIGN KEY ("supersedes_id") REFERENCES "policy_decisions"("id");