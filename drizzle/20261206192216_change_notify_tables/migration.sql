-- The change feed names tables, never GraphQL types: `keys` of a `chipgate_changes` notification
-- now holds the changed and related rows' API keys (slugs; row ids of `policy_decision_updates` and
-- `api_keys`) by SQL table name, and the gateway maps tables to its types (the node-type registry,
-- `src/db/node-types.ts`). Same triggers, same rows, same size limits as before:
--   {"table": "chips", "op": "UPDATE", "keys": {"chips": ["h100"], "companies": ["nvidia", "tsmc"]}}
--   {"table": "api_keys", "op": "UPDATE", "keys": {"api_keys": ["3"]}}
CREATE OR REPLACE FUNCTION chipgate_notify_change() RETURNS trigger
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
    keys := jsonb_build_object('companies', (SELECT jsonb_agg(DISTINCT r->>'slug') FROM jsonb_array_elements(changed) r));
  ELSIF TG_TABLE_NAME = 'chips' THEN
    keys := jsonb_build_object(
      'chips', (SELECT jsonb_agg(DISTINCT r->>'slug') FROM jsonb_array_elements(changed) r),
      'companies', (SELECT jsonb_agg(DISTINCT c.slug) FROM companies c WHERE c.id IN (
        SELECT (r->>'designer_id')::int FROM jsonb_array_elements(changed) r
        UNION SELECT (r->>'foundry_id')::int FROM jsonb_array_elements(changed) r)));
  ELSIF TG_TABLE_NAME = 'policy_decisions' THEN
    ids := ARRAY(SELECT (r->>'id')::int FROM jsonb_array_elements(changed) r);
    keys := jsonb_build_object(
      'policy_decisions', (SELECT jsonb_agg(DISTINCT s) FROM (
        SELECT r->>'slug' AS s FROM jsonb_array_elements(changed) r
        UNION SELECT d.slug FROM policy_decisions d WHERE d.id IN (
          SELECT (r->>'supersedes_id')::int FROM jsonb_array_elements(changed) r)) x),
      'chips', (SELECT jsonb_agg(DISTINCT c.slug) FROM policy_decision_chips pdc
        JOIN chips c ON c.id = pdc.chip_id WHERE pdc.decision_id = ANY(ids)),
      'companies', (SELECT jsonb_agg(DISTINCT co.slug) FROM policy_decision_companies pdco
        JOIN companies co ON co.id = pdco.company_id WHERE pdco.decision_id = ANY(ids)));
  ELSIF TG_TABLE_NAME = 'policy_decision_chips' THEN
    keys := jsonb_build_object(
      'policy_decisions', (SELECT jsonb_agg(DISTINCT d.slug) FROM policy_decisions d WHERE d.id IN (
        SELECT (r->>'decision_id')::int FROM jsonb_array_elements(changed) r)),
      'chips', (SELECT jsonb_agg(DISTINCT c.slug) FROM chips c WHERE c.id IN (
        SELECT (r->>'chip_id')::int FROM jsonb_array_elements(changed) r)));
  ELSIF TG_TABLE_NAME = 'policy_decision_companies' THEN
    keys := jsonb_build_object(
      'policy_decisions', (SELECT jsonb_agg(DISTINCT d.slug) FROM policy_decisions d WHERE d.id IN (
        SELECT (r->>'decision_id')::int FROM jsonb_array_elements(changed) r)),
      'companies', (SELECT jsonb_agg(DISTINCT c.slug) FROM companies c WHERE c.id IN (
        SELECT (r->>'company_id')::int FROM jsonb_array_elements(changed) r)));
  ELSIF TG_TABLE_NAME = 'policy_decision_updates' THEN
    ids := ARRAY(SELECT (r->>'decision_id')::int FROM jsonb_array_elements(changed) r);
    keys := jsonb_build_object(
      'policy_decision_updates', (SELECT jsonb_agg(DISTINCT r->>'id') FROM jsonb_array_elements(changed) r),
      'policy_decisions', (SELECT jsonb_agg(DISTINCT d.slug) FROM policy_decisions d WHERE d.id = ANY(ids)),
      'chips', (SELECT jsonb_agg(DISTINCT c.slug) FROM policy_decision_chips pdc
        JOIN chips c ON c.id = pdc.chip_id WHERE pdc.decision_id = ANY(ids)),
      'companies', (SELECT jsonb_agg(DISTINCT co.slug) FROM policy_decision_companies pdco
        JOIN companies co ON co.id = pdco.company_id WHERE pdco.decision_id = ANY(ids)));
  ELSIF TG_TABLE_NAME = 'demand_signals' THEN
    keys := jsonb_build_object(
      'demand_signals', (SELECT jsonb_agg(DISTINCT r->>'slug') FROM jsonb_array_elements(changed) r),
      'chips', (SELECT jsonb_agg(DISTINCT c.slug) FROM chips c WHERE c.id IN (
        SELECT (r->>'chip_id')::int FROM jsonb_array_elements(changed) r)));
  ELSIF TG_TABLE_NAME = 'demand_signal_companies' THEN
    keys := jsonb_build_object(
      'demand_signals', (SELECT jsonb_agg(DISTINCT s.slug) FROM demand_signals s WHERE s.id IN (
        SELECT (r->>'signal_id')::int FROM jsonb_array_elements(changed) r)),
      'companies', (SELECT jsonb_agg(DISTINCT c.slug) FROM companies c WHERE c.id IN (
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
CREATE OR REPLACE FUNCTION chipgate_notify_api_key_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  key_id int := CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END;
BEGIN
  PERFORM pg_notify('chipgate_changes', json_build_object('table', TG_TABLE_NAME, 'op', TG_OP,
    'keys', json_build_object(TG_TABLE_NAME, json_build_array(key_id::text)))::text);
  RETURN NULL;
END;
$$;
