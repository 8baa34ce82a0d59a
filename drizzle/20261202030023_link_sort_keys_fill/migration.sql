-- Sort keys on link rows. "A chip's decisions, newest first" and "a company's signals, newest
-- first" are the lists dashboards read most; with the parent's announced_on/observed_on and
-- slug on each link row, an index on (owner, date, slug) returns a page in order, instead of
-- joining every link to its row and sorting them all. The copies are kept here, in the
-- database, so every writer (the gateway, the seed, a sync job, psql) keeps them right:
-- writers never set them, a link row takes them from its decision or signal on every insert or
-- update, and a change of a decision's or signal's date or slug follows to its link rows.
-- Nothing here needs a PostgreSQL newer than 15.
ALTER TABLE "policy_decision_chips" ALTER COLUMN "decision_slug" TYPE text COLLATE "C";
--> statement-breakpoint
ALTER TABLE "policy_decision_companies" ALTER COLUMN "decision_slug" TYPE text COLLATE "C";
--> statement-breakpoint
ALTER TABLE "demand_signal_companies" ALTER COLUMN "signal_slug" TYPE text COLLATE "C";
--> statement-breakpoint
CREATE FUNCTION chipgate_decision_link_sort_keys() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  SELECT d.announced_on, d.slug INTO NEW.decision_announced_on, NEW.decision_slug
    FROM policy_decisions d WHERE d.id = NEW.decision_id;
  RETURN NEW;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER policy_decision_chips_sort_keys BEFORE INSERT OR UPDATE ON policy_decision_chips
  FOR EACH ROW EXECUTE FUNCTION chipgate_decision_link_sort_keys();
--> statement-breakpoint
CREATE TRIGGER policy_decision_companies_sort_keys BEFORE INSERT OR UPDATE ON policy_decision_companies
  FOR EACH ROW EXECUTE FUNCTION chipgate_decision_link_sort_keys();
--> statement-breakpoint
CREATE FUNCTION chipgate_signal_link_sort_keys() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  SELECT s.observed_on, s.slug INTO NEW.signal_observed_on, NEW.signal_slug
    FROM demand_signals s WHERE s.id = NEW.signal_id;
  RETURN NEW;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER demand_signal_companies_sort_keys BEFORE INSERT OR UPDATE ON demand_signal_companies
  FOR EACH ROW EXECUTE FUNCTION chipgate_signal_link_sort_keys();
--> statement-breakpoint
CREATE FUNCTION chipgate_follow_decision_sort_keys() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE policy_decision_chips SET decision_announced_on = NEW.announced_on, decision_slug = NEW.slug
   WHERE decision_id = NEW.id;
  UPDATE policy_decision_companies SET decision_announced_on = NEW.announced_on, decision_slug = NEW.slug
   WHERE decision_id = NEW.id;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER policy_decisions_follow_sort_keys AFTER UPDATE OF announced_on, slug ON policy_decisions
  FOR EACH ROW WHEN (OLD.announced_on IS DISTINCT FROM NEW.announced_on OR OLD.slug IS DISTINCT FROM NEW.slug)
  EXECUTE FUNCTION chipgate_follow_decision_sort_keys();
--> statement-breakpoint
CREATE FUNCTION chipgate_follow_signal_sort_keys() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE demand_signal_companies SET signal_observed_on = NEW.observed_on, signal_slug = NEW.slug
   WHERE signal_id = NEW.id;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER demand_signals_follow_sort_keys AFTER UPDATE OF observed_on, slug ON demand_signals
  FOR EACH ROW WHEN (OLD.observed_on IS DISTINCT FROM NEW.observed_on OR OLD.slug IS DISTINCT FROM NEW.slug)
  EXECUTE FUNCTION chipgate_follow_signal_sort_keys();
--> statement-breakpoint
-- Existing rows: fire the link triggers once.
UPDATE policy_decision_chips SET decision_id = decision_id;
--> statement-breakpoint
UPDATE policy_decision_companies SET decision_id = decision_id;
--> statement-breakpoint
UPDATE demand_signal_companies SET signal_id = signal_id;
