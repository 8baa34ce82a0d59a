-- Hand-written triggers. They live in the database so that every writer (the gateway, the seed
-- loader, a sync job, psql) gets the same history, timestamps and event order.
-- Nothing here needs a PostgreSQL newer than 15.

-- updated_at follows every UPDATE, whoever issues it.
CREATE FUNCTION chipgate_touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER companies_touch_updated_at BEFORE UPDATE ON companies
  FOR EACH ROW EXECUTE FUNCTION chipgate_touch_updated_at();
--> statement-breakpoint
CREATE TRIGGER chips_touch_updated_at BEFORE UPDATE ON chips
  FOR EACH ROW EXECUTE FUNCTION chipgate_touch_updated_at();
--> statement-breakpoint
CREATE TRIGGER policy_decisions_touch_updated_at BEFORE UPDATE ON policy_decisions
  FOR EACH ROW EXECUTE FUNCTION chipgate_touch_updated_at();
--> statement-breakpoint
CREATE TRIGGER demand_signals_touch_updated_at BEFORE UPDATE ON demand_signals
  FOR EACH ROW EXECUTE FUNCTION chipgate_touch_updated_at();
--> statement-breakpoint

-- Event order = commit order. A sequence value drawn by the column default is not commit order
-- (a lower value can commit after a higher one), so the event rows draw theirs only after taking
-- a transaction-level advisory lock: the next writer waits until this one commits or rolls back,
-- and therefore always draws a higher value that becomes visible later. Subscriptions can then
-- resume with "event_seq > the last one I saw" without ever skipping a row.
CREATE FUNCTION chipgate_assign_event_seq() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(720430001);
  NEW.event_seq := nextval('chipgate_event_seq');
  RETURN NEW;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER policy_decision_updates_assign_event_seq BEFORE INSERT ON policy_decision_updates
  FOR EACH ROW EXECUTE FUNCTION chipgate_assign_event_seq();
--> statement-breakpoint
CREATE TRIGGER demand_signals_assign_event_seq BEFORE INSERT ON demand_signals
  FOR EACH ROW EXECUTE FUNCTION chipgate_assign_event_seq();
--> statement-breakpoint

-- Status history. An INSERT into policy_decisions records its first status (from_status NULL);
-- an UPDATE that changes status records the transition. Writers may say when and why through
-- two transaction-local settings:
--   select set_config('chipgate.occurred_at', '2026-01-13T00:00:00Z', true);
--   select set_config('chipgate.note', 'Customs told agents H200 is not permitted', true);
-- Without them the row gets now() and no note.
CREATE FUNCTION chipgate_record_policy_decision_update() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  occurred text := nullif(current_setting('chipgate.occurred_at', true), '');
  note text := nullif(current_setting('chipgate.note', true), '');
BEGIN
  -- The trigger fires on UPDATE OF status, which includes `SET status = status`.
  IF TG_OP = 'UPDATE' AND NEW.status IS NOT DISTINCT FROM OLD.status THEN
    RETURN NULL;
  END IF;
  INSERT INTO policy_decision_updates (decision_id, from_status, to_status, occurred_at, note)
  VALUES (NEW.id, CASE WHEN TG_OP = 'UPDATE' THEN OLD.status END, NEW.status,
          coalesce(occurred::timestamptz, now()), note);
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER policy_decisions_record_update AFTER INSERT OR UPDATE OF status ON policy_decisions
  FOR EACH ROW EXECUTE FUNCTION chipgate_record_policy_decision_update();
