-- Change notifications for the response cache. Every statement that inserts, updates or deletes
-- rows of a table the API reads sends one notification on `chipgate_changes`, whoever the writer is
-- (the gateway on any instance, the Federal Register sync, psql). PostgreSQL delivers it when the
-- transaction commits. Each gateway instance evicts what the change may have altered.
--
-- The payload names the rows by the keys of the API (slugs, and row ids of status history), with
-- the rows they relate to (a chip's designer, a decision's chips and companies, ...):
--   {"table": "companies", "op": "UPDATE", "keys": {"Company": ["nvidia"]}}
-- A statement touching more than 200 rows, or a payload over 7500 bytes (NOTIFY takes 8000),
-- sends {"table": ..., "op": ..., "all": true} instead: evict everything the table feeds.
-- Statement-level triggers with transition tables: one notification per statement, not per row.
CREATE FUNCTION chipgate_notify_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  changed jsonb;
  ids int[];
  keys jsonb;
  payload text;
BEGIN
  IF TG_OP = 'INSERT' THEN
    changed := (SELECT coalesce(jsonb_agg(to_jsonb(n)), '[]') FROM new_rows n);
  ELSIF TG_OP = 'DELETE' THEN
    changed := (SELECT coalesce(jsonb_agg(to_jsonb(o)), '[]') FROM old_rows o);
  ELSE
    changed := (SELECT coalesce(jsonb_agg(to_jsonb(n)), '[]') FROM new_rows n)
      || (SELECT coalesce(jsonb_agg(to_jsonb(o)), '[]') FROM old_rows o);
  END IF;
  IF jsonb_array_length(changed) = 0 THEN
    RETURN NULL;
  END IF;
  IF jsonb_array_length(changed) > 200 THEN
    PERFORM pg_notify('chipgate_changes',
      json_build_object('table', TG_TABLE_NAME, 'op', TG_OP, 'all', true)::text);
    RETURN NULL;
  END IF;
  IF TG_TABLE_NAME = 'companies' THEN
    keys := jsonb_build_object('Company', (SELECT jsonb_agg(DISTINCT r->>'slug') FROM jsonb_array_elements(changed) r));
  ELSIF TG_TABLE_NAME = 'chips' THEN
    keys := jsonb_build_object(
      'Chip', (SELECT jsonb_agg(DISTINCT r->>'slug') FROM jsonb_array_elements(changed) r),
      'Company', (SELECT jsonb_agg(DISTINCT c.slug) FROM companies c WHERE c.id IN (
        SELECT (r->>'designer_id')::int FROM jsonb_array_elements(changed) r
        UNION SELECT (r->>'foundry_id')::int FROM jsonb_array_elements(changed) r)));
  ELSIF TG_TABLE_NAME = 'policy_decisions' THEN
    ids := ARRAY(SELECT (r->>'id')::int FROM jsonb_array_elements(changed) r);
    keys := jsonb_build_object(
      'PolicyDecision', (SELECT jsonb_agg(DISTINCT s) FROM (
        SELECT r->>'slug' AS s FROM jsonb_array_elements(changed) r
        UNION SELECT d.slug FROM policy_decisions d WHERE d.id IN (
          SELECT (r->>'supersedes_id')::int FROM jsonb_array_elements(changed) r)) x),
      'Chip', (SELECT jsonb_agg(DISTINCT c.slug) FROM policy_decision_chips pdc
        JOIN chips c ON c.id = pdc.chip_id WHERE pdc.decision_id = ANY(ids)),
      'Company', (SELECT jsonb_agg(DISTINCT co.slug) FROM policy_decision_companies pdco
        JOIN companies co ON co.id = pdco.company_id WHERE pdco.decision_id = ANY(ids)));
  ELSIF TG_TABLE_NAME = 'policy_decision_chips' THEN
    keys := jsonb_build_object(
      'PolicyDecision', (SELECT jsonb_agg(DISTINCT d.slug) FROM policy_decisions d WHERE d.id IN (
        SELECT (r->>'decision_id')::int FROM jsonb_array_elements(changed) r)),
      'Chip', (SELECT jsonb_agg(DISTINCT c.slug) FROM chips c WHERE c.id IN (
        SELECT (r->>'chip_id')::int FROM jsonb_array_elements(changed) r)));
  ELSIF TG_TABLE_NAME = 'policy_decision_companies' THEN
    keys := jsonb_build_object(
      'PolicyDecision', (SELECT jsonb_agg(DISTINCT d.slug) FROM policy_decisions d WHERE d.id IN (
        SELECT (r->>'decision_id')::int FROM jsonb_array_elements(changed) r)),
      'Company', (SELECT jsonb_agg(DISTINCT c.slug) FROM companies c WHERE c.id IN (
        SELECT (r->>'company_id')::int FROM jsonb_array_elements(changed) r)));
  ELSIF TG_TABLE_NAME = 'policy_decision_updates' THEN
    ids := ARRAY(SELECT (r->>'decision_id')::int FROM jsonb_array_elements(changed) r);
    keys := jsonb_build_object(
      'PolicyDecisionUpdate', (SELECT jsonb_agg(DISTINCT r->>'id') FROM jsonb_array_elements(changed) r),
      'PolicyDecision', (SELECT jsonb_agg(DISTINCT d.slug) FROM policy_decisions d WHERE d.id = ANY(ids)),
      'Chip', (SELECT jsonb_agg(DISTINCT c.slug) FROM policy_decision_chips pdc
        JOIN chips c ON c.id = pdc.chip_id WHERE pdc.decision_id = ANY(ids)),
      'Company', (SELECT jsonb_agg(DISTINCT co.slug) FROM policy_decision_companies pdco
        JOIN companies co ON co.id = pdco.company_id WHERE pdco.decision_id = ANY(ids)));
  ELSIF TG_TABLE_NAME = 'demand_signals' THEN
    keys := jsonb_build_object(
      'DemandSignal', (SELECT jsonb_agg(DISTINCT r->>'slug') FROM jsonb_array_elements(changed) r),
      'Chip', (SELECT jsonb_agg(DISTINCT c.slug) FROM chips c WHERE c.id IN (
        SELECT (r->>'chip_id')::int FROM jsonb_array_elements(changed) r)));
  ELSIF TG_TABLE_NAME = 'demand_signal_companies' THEN
    keys := jsonb_build_object(
      'DemandSignal', (SELECT jsonb_agg(DISTINCT s.slug) FROM demand_signals s WHERE s.id IN (
        SELECT (r->>'signal_id')::int FROM jsonb_array_elements(changed) r)),
      'Company', (SELECT jsonb_agg(DISTINCT c.slug) FROM companies c WHERE c.id IN (
        SELECT (r->>'company_id')::int FROM jsonb_array_elements(changed) r)));
  END IF;
  payload := json_build_object('table', TG_TABLE_NAME, 'op', TG_OP,
    'keys', jsonb_strip_nulls(coalesce(keys, '{}'::jsonb)))::text;
  IF octet_length(payload) > 7500 THEN
    payload := json_build_object('table', TG_TABLE_NAME, 'op', TG_OP, 'all', true)::text;
  END IF;
  PERFORM pg_notify('chipgate_changes', payload);
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER companies_change_insert AFTER INSERT ON companies
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION chipgate_notify_change();
--> statement-breakpoint
CREATE TRIGGER companies_change_update AFTER UPDATE ON companies
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION chipgate_notify_change();
--> statement-breakpoint
CREATE TRIGGER companies_change_delete AFTER DELETE ON companies
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION chipgate_notify_change();
--> statement-breakpoint
CREATE TRIGGER chips_change_insert AFTER INSERT ON chips
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION chipgate_notify_change();
--> statement-breakpoint
CREATE TRIGGER chips_change_update AFTER UPDATE ON chips
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION chipgate_notify_change();
--> statement-breakpoint
CREATE TRIGGER chips_change_delete AFTER DELETE ON chips
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION chipgate_notify_change();
--> statement-breakpoint
CREATE TRIGGER policy_decisions_change_insert AFTER INSERT ON policy_decisions
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION chipgate_notify_change();
--> statement-breakpoint
CREATE TRIGGER policy_decisions_change_update AFTER UPDATE ON policy_decisions
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION chipgate_notify_change();
--> statement-breakpoint
CREATE TRIGGER policy_decisions_change_delete AFTER DELETE ON policy_decisions
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION chipgate_notify_change();
--> statement-breakpoint
CREATE TRIGGER policy_decision_chips_change_insert AFTER INSERT ON policy_decision_chips
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION chipgate_notify_change();
--> statement-breakpoint
CREATE TRIGGER policy_decision_chips_change_update AFTER UPDATE ON policy_decision_chips
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION chipgate_notify_change();
--> statement-breakpoint
CREATE TRIGGER policy_decision_chips_change_delete AFTER DELETE ON policy_decision_chips
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION chipgate_notify_change();
--> statement-breakpoint
CREATE TRIGGER policy_decision_companies_change_insert AFTER INSERT ON policy_decision_companies
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION chipgate_notify_change();
--> statement-breakpoint
CREATE TRIGGER policy_decision_companies_change_update AFTER UPDATE ON policy_decision_companies
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION chipgate_notify_change();
--> statement-breakpoint
CREATE TRIGGER policy_decision_companies_change_delete AFTER DELETE ON policy_decision_companies
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION chipgate_notify_change();
--> statement-breakpoint
CREATE TRIGGER policy_decision_updates_change_insert AFTER INSERT ON policy_decision_updates
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION chipgate_notify_change();
--> statement-breakpoint
CREATE TRIGGER policy_decision_updates_change_update AFTER UPDATE ON policy_decision_updates
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION chipgate_notify_change();
--> statement-breakpoint
CREATE TRIGGER policy_decision_updates_change_delete AFTER DELETE ON policy_decision_updates
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION chipgate_notify_change();
--> statement-breakpoint
CREATE TRIGGER demand_signals_change_insert AFTER INSERT ON demand_signals
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION chipgate_notify_change();
--> statement-breakpoint
CREATE TRIGGER demand_signals_change_update AFTER UPDATE ON demand_signals
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION chipgate_notify_change();
--> statement-breakpoint
CREATE TRIGGER demand_signals_change_delete AFTER DELETE ON demand_signals
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION chipgate_notify_change();
--> statement-breakpoint
CREATE TRIGGER demand_signal_companies_change_insert AFTER INSERT ON demand_signal_companies
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION chipgate_notify_change();
--> statement-breakpoint
CREATE TRIGGER demand_signal_companies_change_update AFTER UPDATE ON demand_signal_companies
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION chipgate_notify_change();
--> statement-breakpoint
CREATE TRIGGER demand_signal_companies_change_delete AFTER DELETE ON demand_signal_companies
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION chipgate_notify_change();
