CREATE TABLE "sync_runs" (
	"source" text,
	"slot" timestamp with time zone,
	"state" text NOT NULL,
	"attempts" integer DEFAULT 1 NOT NULL,
	"instance" text NOT NULL,
	"since" date NOT NULL,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone,
	"total" integer,
	"created" integer,
	"linked" integer,
	"updated" integer,
	"unchanged" integer,
	"failed_documents" integer,
	"error" text,
	CONSTRAINT "sync_runs_pkey" PRIMARY KEY("source","slot"),
	CONSTRAINT "sync_runs_state_check" CHECK ("state" in ('running', 'succeeded', 'failed'))
);
