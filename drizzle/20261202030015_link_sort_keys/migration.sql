DROP INDEX "chips_designer_id_idx";--> statement-breakpoint
DROP INDEX "demand_signal_companies_company_id_idx";--> statement-breakpoint
DROP INDEX "demand_signals_chip_id_idx";--> statement-breakpoint
DROP INDEX "policy_decision_chips_chip_id_idx";--> statement-breakpoint
DROP INDEX "policy_decision_companies_company_id_idx";--> statement-breakpoint
ALTER TABLE "demand_signal_companies" ADD COLUMN "signal_observed_on" date;--> statement-breakpoint
ALTER TABLE "demand_signal_companies" ADD COLUMN "signal_slug" text;--> statement-breakpoint
ALTER TABLE "policy_decision_chips" ADD COLUMN "decision_announced_on" date;--> statement-breakpoint
ALTER TABLE "policy_decision_chips" ADD COLUMN "decision_slug" text;--> statement-breakpoint
ALTER TABLE "policy_decision_companies" ADD COLUMN "decision_announced_on" date;--> statement-breakpoint
ALTER TABLE "policy_decision_companies" ADD COLUMN "decision_slug" text;--> statement-breakpoint
CREATE INDEX "chips_designer_order_idx" ON "chips" ("designer_id","name","slug");--> statement-breakpoint
CREATE INDEX "demand_signal_companies_company_order_idx" ON "demand_signal_companies" ("company_id","signal_observed_on","signal_slug");--> statement-breakpoint
CREATE INDEX "demand_signals_chip_order_idx" ON "demand_signals" ("chip_id","observed_on","slug");--> statement-breakpoint
CREATE INDEX "policy_decision_chips_chip_order_idx" ON "policy_decision_chips" ("chip_id","decision_announced_on","decision_slug");--> statement-breakpoint
CREATE INDEX "policy_decision_companies_company_order_idx" ON "policy_decision_companies" ("company_id","decision_announced_on","decision_slug");