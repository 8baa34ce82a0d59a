ALTER TABLE "chips" ADD CONSTRAINT "chips_memory_gb_finite" CHECK ("memory_gb" > '-Infinity' and "memory_gb" < 'Infinity');--> statement-breakpoint
ALTER TABLE "chips" ADD CONSTRAINT "chips_memory_bandwidth_tbs_finite" CHECK ("memory_bandwidth_tbs" > '-Infinity' and "memory_bandwidth_tbs" < 'Infinity');--> statement-breakpoint
ALTER TABLE "chips" ADD CONSTRAINT "chips_fp16_dense_tflops_finite" CHECK ("fp16_dense_tflops" > '-Infinity' and "fp16_dense_tflops" < 'Infinity');--> statement-breakpoint
ALTER TABLE "chips" ADD CONSTRAINT "chips_fp8_dense_tflops_finite" CHECK ("fp8_dense_tflops" > '-Infinity' and "fp8_dense_tflops" < 'Infinity');--> statement-breakpoint
ALTER TABLE "chips" ADD CONSTRAINT "chips_die_area_mm2_finite" CHECK ("die_area_mm2" > '-Infinity' and "die_area_mm2" < 'Infinity');--> statement-breakpoint
ALTER TABLE "chips" ADD CONSTRAINT "chips_interconnect_gbs_finite" CHECK ("interconnect_gbs" > '-Infinity' and "interconnect_gbs" < 'Infinity');--> statement-breakpoint
ALTER TABLE "chips" ADD CONSTRAINT "chips_tpp_finite" CHECK ("tpp" > '-Infinity' and "tpp" < 'Infinity');--> statement-breakpoint
ALTER TABLE "chips" ADD CONSTRAINT "chips_performance_density_finite" CHECK ("performance_density" > '-Infinity' and "performance_density" < 'Infinity');--> statement-breakpoint
ALTER TABLE "demand_signals" ADD CONSTRAINT "demand_signals_value_usd_finite" CHECK ("value_usd" > '-Infinity' and "value_usd" < 'Infinity');--> statement-breakpoint
ALTER TABLE "demand_signals" ADD CONSTRAINT "demand_signals_value_original_amount_finite" CHECK ("value_original_amount" > '-Infinity' and "value_original_amount" < 'Infinity');--> statement-breakpoint
ALTER TABLE "policy_decisions" ADD CONSTRAINT "policy_decisions_revenue_share_percent_finite" CHECK ("revenue_share_percent" > '-Infinity' and "revenue_share_percent" < 'Infinity');--> statement-breakpoint
ALTER TABLE "policy_decisions" ADD CONSTRAINT "policy_decisions_tariff_percent_finite" CHECK ("tariff_percent" > '-Infinity' and "tariff_percent" < 'Infinity');