-- Before the `*_finite` CHECK constraints (next migration) refuse NaN and infinities in every
-- floating-point and numeric column, clear the values that already hold one, so that migration
-- cannot fail on a database an earlier gateway (or any writer) let such a value into.
-- A non-finite figure is no fact: the column becomes null ("not verified", as every unknown
-- fact is) and no finite value is touched. What was cleared is kept in the row's `notes`
-- (curation notes, not served by the API), so a curator can find the row and the source again.
-- Nothing here needs a PostgreSQL newer than 15.
DO $$
DECLARE
  col record;
BEGIN
  FOR col IN
    SELECT c.table_name, c.column_name
      FROM information_schema.columns c
     WHERE c.table_schema = current_schema()
       AND c.table_name IN ('chips', 'policy_decisions', 'demand_signals')
       AND c.data_type IN ('double precision', 'real', 'numeric')
     ORDER BY c.table_name, c.ordinal_position
  LOOP
    EXECUTE format(
      'UPDATE %1$I SET %2$I = NULL, notes = concat_ws(E''\n'', notes, %3$L || %2$I::text || %4$L)
        WHERE NOT (%2$I > ''-Infinity'' AND %2$I < ''Infinity'')',
      col.table_name,
      col.column_name,
      col.column_name || ' was ',
      ' (not a finite number); cleared by the migration non_finite_to_null.'
    );
  END LOOP;
END
$$;
