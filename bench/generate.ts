/**
 * Synthetic data for the benchmark, at a scale factor S:
 * - 100·S companies (designers), 5 chips each;
 * - 20·S policy decisions, each naming 3 chips (with an effect) and the chips' designers;
 * - 50 demand signals per company, each naming its company (and one of its chips).
 *
 * Everything is generated inside the database with `generate_series` (one statement per table),
 * so S=10 takes seconds on PGlite and on a server. Values are deterministic (derived from md5 of
 * the row number), spread out so the orderings the API uses (name then slug; date desc then slug
 * desc) have ties that the tie-breakers decide. Slugs are `bench-co-000001`,
 * `bench-co-000001-chip-1`, `bench-pd-000001`, `bench-co-000001-ds-01`.
 */
import { type SQL, sql } from 'drizzle-orm';
import { type Database, queryRows } from '../src/db/client.js';

/** Rows per table after `generate`. */
export interface GeneratedCounts {
  companies: number;
  chips: number;
  policyDecisions: number;
  policyDecisionChips: number;
  policyDecisionCompanies: number;
  policyDecisionUpdates: number;
  demandSignals: number;
  demandSignalCompanies: number;
}

/** Chips per company. */
export const CHIPS_PER_COMPANY = 5;
/** Chips each policy decision names. */
export const CHIPS_PER_DECISION = 3;
/** Demand signals per company. */
export const SIGNALS_PER_COMPANY = 50;

/** A deterministic pseudo-random non-negative int (0 .. 2^28-1) from a text key. */
const hash = (key: SQL) => sql`(('x' || substr(md5(${key}), 1, 7))::bit(28)::int)`;

/**
 * Fills an empty, migrated database at scale factor `scale` in one transaction, then runs
 * `analyze` so the planner sees the real row counts. Returns the row count of each table.
 */
export async function generate(db: Database, scale: number): Promise<GeneratedCounts> {
  if (!Number.isInteger(scale) || scale < 1 || scale > 9999) {
    throw new Error(`scale must be a whole number between 1 and 9999, got ${scale}`);
  }
  const companyCount = 100 * scale;
  const chipCount = companyCount * CHIPS_PER_COMPANY;
  const decisionCount = 20 * scale;
  // A multiplier coprime with the chip count spreads decision links over all companies.
  const stride = [7919, 7927, 7933].find((prime) => chipCount % prime !== 0) ?? 1;

  await db.transaction(async (txn) => {
    const tx = txn as unknown as Database;
    const [existing] = await queryRows<{ n: number }>(
      tx,
      sql`select count(*)::int as n from companies`,
    );
    if ((existing?.n ?? 0) > 0) throw new Error('generate: the database is not empty');

    // Names come from 4096 values, so several companies share a name and slug breaks the tie.
    await tx.execute(sql`
      insert into companies (slug, name, country, roles, confidence)
      select 'bench-co-' || lpad(i::text, 6, '0'),
             'Company ' || upper(substr(md5('co' || i), 1, 3)),
             (array['US','CN','TW','KR','JP','NL','DE','GB'])[1 + i % 8],
             array['DESIGNER']::company_role[],
             'RECALLED'
      from generate_series(1, ${companyCount}::int) as i`);

    await tx.execute(sql`
      insert into chips (slug, name, designer_id, architecture, launch_year, tpp, confidence)
      select co.slug || '-chip-' || k,
             'Chip ' || upper(substr(md5(co.slug || k), 1, 1)),
             co.id,
             'Arch ' || (k % 3),
             2018 + (co.id + k) % 8,
             case when (co.id + k) % 9 = 0 then null
                  else (${hash(sql`'tpp' || co.id || '-' || k`)} % 40000) * 0.5 end,
             'RECALLED'
      from companies co cross join generate_series(1, ${CHIPS_PER_COMPANY}::int) as k`);

    // Announcement dates fall in 1000 days, so a few decisions share a date (slug decides).
    await tx.execute(sql`
      insert into policy_decisions
        (slug, title, jurisdiction, destinations, authority, kind, status, announced_on, confidence)
      select 'bench-pd-' || lpad(i::text, 6, '0'),
             'Decision ' || i || ' on advanced computing items',
             (array['US','CN','NL','JP'])[1 + i % 4],
             array['CN','HK'],
             (array['BIS','MOFCOM','CAC','METI'])[1 + i % 4],
             (enum_range(null::policy_kind))[1 + i % 6],
             (enum_range(null::policy_status))[1 + i % 8],
             date '2022-01-01' + ${hash(sql`'pd' || i`)} % 1000,
             'RECALLED'
      from generate_series(1, ${decisionCount}::int) as i`);

    // Decision i names the chips at positions (3(i-1)+k)·stride mod N: distinct, spread out.
    await tx.execute(sql`
      insert into policy_decision_chips (decision_id, chip_id, effect)
      select d.id, ch.id, (enum_range(null::policy_effect))[1 + (d.id + k) % 7]
      from generate_series(1, ${decisionCount}::int) as i
      cross join generate_series(0, ${CHIPS_PER_DECISION - 1}::int) as k
      cross join lateral (
        select ((((i - 1) * ${CHIPS_PER_DECISION}::int + k)::bigint * ${stride}::int)
                % ${chipCount}::int)::int as p
      ) as pos
      join policy_decisions d on d.slug = 'bench-pd-' || lpad(i::text, 6, '0')
      join chips ch on ch.slug = 'bench-co-' || lpad((pos.p / ${CHIPS_PER_COMPANY}::int + 1)::text, 6, '0')
                                 || '-chip-' || (pos.p % ${CHIPS_PER_COMPANY}::int + 1)`);

    await tx.execute(sql`
      insert into policy_decision_companies (decision_id, company_id)
      select distinct pdc.decision_id, ch.designer_id
      from policy_decision_chips pdc join chips ch on ch.id = pdc.chip_id`);

    // Observation dates fall in 400 days, so a company's 50 signals have some equal dates.
    await tx.execute(sql`
      with inserted as (
        insert into demand_signals
          (slug, chip_id, kind, observed_on, quantity_units, value_usd, direction, strength,
           reported_by, confidence)
        select co.slug || '-ds-' || lpad(k::text, 2, '0'),
               ch.id,
               (enum_range(null::demand_signal_kind))[1 + k % 5],
               date '2024-01-01' + ${hash(sql`co.slug || k`)} % 400,
               case when k % 3 = 0 then null else 1000 * (1 + k) end,
               case when k % 5 = 0 then null
                    else round((${hash(sql`'usd' || co.slug || k`)} % 100000000)::numeric / 100, 2)
               end,
               (enum_range(null::signal_direction))[1 + k % 3],
               (enum_range(null::signal_strength))[1 + k % 3],
               'Benchmark wire',
               'RECALLED'
        from companies co
        cross join generate_series(1, ${SIGNALS_PER_COMPANY}::int) as k
        join chips ch on ch.slug = co.slug || '-chip-' || (1 + k % ${CHIPS_PER_COMPANY}::int)
        returning id, slug
      )
      insert into demand_signal_companies (signal_id, company_id, position)
      select inserted.id, co.id, 0
      from inserted join companies co on co.slug = left(inserted.slug, 15)`);
  });

  await db.execute(sql`analyze`);

  const [counts] = await queryRows<GeneratedCounts>(
    db,
    sql`select
      (select count(*)::int from companies) as "companies",
      (select count(*)::int from chips) as "chips",
      (select count(*)::int from policy_decisions) as "policyDecisions",
      (select count(*)::int from policy_decision_chips) as "policyDecisionChips",
      (select count(*)::int from policy_decision_companies) as "policyDecisionCompanies",
      (select count(*)::int from policy_decision_updates) as "policyDecisionUpdates",
      (select count(*)::int from demand_signals) as "demandSignals",
      (select count(*)::int from demand_signal_companies) as "demandSignalCompanies"`,
  );
  if (!counts) throw new Error('generate: could not count the generated rows');
  const expected: Partial<GeneratedCounts> = {
    companies: companyCount,
    chips: chipCount,
    policyDecisions: decisionCount,
    policyDecisionChips: decisionCount * CHIPS_PER_DECISION,
    demandSignals: companyCount * SIGNALS_PER_COMPANY,
    demandSignalCompanies: companyCount * SIGNALS_PER_COMPANY,
  };
  for (const [table, want] of Object.entries(expected)) {
    const got = counts[table as keyof GeneratedCounts];
    if (got !== want) throw new Error(`generate: ${table} has ${got} rows, expected ${want}`);
  }
  return counts;
}
