-- Live updates. Every insert into an event table (a status change of a policy decision, a new
-- demand signal) sends a notification on the `chipgate_events` channel, whoever the writer is:
-- the gateway's mutations, the seed loader, a sync job or psql. PostgreSQL delivers notifications
-- only when the transaction commits, and in commit order.
--
-- The payload carries the row's identity, never the row: {"table": ..., "id": ..., "seq": ...}.
-- Listeners load the rows themselves (one query for a burst), and catch up after a lost
-- connection with `event_seq > <last seen>`, which is safe because event_seq is drawn in commit
-- order (see chipgate_assign_event_seq in the triggers migration).
CREATE FUNCTION chipgate_notify_event() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('chipgate_events',
    json_build_object('table', TG_TABLE_NAME, 'id', NEW.id, 'seq', NEW.event_seq)::text);
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER policy_decision_updates_notify AFTER INSERT ON policy_decision_updates
  FOR EACH ROW EXECUTE FUNCTION chipgate_notify_event();
--> statement-breakpoint
CREATE TRIGGER demand_signals_notify AFTER INSERT ON demand_signals
  FOR EACH ROW EXECUTE FUNCTION chipgate_notify_event();
