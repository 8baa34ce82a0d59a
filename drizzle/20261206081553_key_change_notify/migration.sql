-- API key changes on the change feed (`chipgate_changes`, the channel of the `change_notify`
-- migration). A key revoked, deleted, or given other scopes or limits is announced whoever changed
-- it (`keys revoke|update` from any machine, psql), when the transaction commits; every gateway
-- instance then checks the subscriptions and WebSocket connections the key holds there again.
--   {"table": "api_keys", "op": "UPDATE", "keys": {"ApiKey": ["3"]}}
-- Refreshing `last_used_at` (authentication does it at most once a minute per key) is not a
-- change of the key. Row-level: PostgreSQL sends identical notifications of one transaction once.
CREATE FUNCTION chipgate_notify_api_key_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  key_id int := CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END;
BEGIN
  PERFORM pg_notify('chipgate_changes', json_build_object('table', TG_TABLE_NAME, 'op', TG_OP,
    'keys', json_build_object('ApiKey', json_build_array(key_id::text)))::text);
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER api_keys_change_update AFTER UPDATE ON api_keys FOR EACH ROW
  WHEN ((to_jsonb(OLD) - 'last_used_at') IS DISTINCT FROM (to_jsonb(NEW) - 'last_used_at'))
  EXECUTE FUNCTION chipgate_notify_api_key_change();
--> statement-breakpoint
CREATE TRIGGER api_keys_change_delete AFTER DELETE ON api_keys FOR EACH ROW
  EXECUTE FUNCTION chipgate_notify_api_key_change();
