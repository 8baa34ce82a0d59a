/**
 * Writes as any other writer would make them (plain SQL, not the API), for tests that show
 * such writes reach subscribers too.
 */
import { sql } from 'drizzle-orm';
import { type Database, queryRows } from '../../src/db/client.js';

/** Changes a decision's status in one transaction, with a note for the history trigger. */
export async function setStatus(db: Database, slug: string, status: string, note: string) {
  await db.transaction(async (tx) => {
    await tx.execute(sql`select set_config('chipgate.note', ${note}, true)`);
    await tx.execute(
      sql`update policy_decisions set status = ${status}::policy_status where slug = ${slug}`,
    );
  });
}

/** Records an ORDER demand signal (the row and its company links) in one transaction. */
export async function insertSignal(
  db: Database,
  slug: string,
  chip: string | null,
  companies: string[],
) {
  await db.transaction(async (tx) => {
    const [row] = await queryRows<{ id: number }>(
      tx as unknown as Database,
      sql`insert into demand_signals (slug, chip_id, kind, observed_on, quantity_units, confidence)
          values (${slug}, (select id from chips where slug = ${chip}), 'ORDER', '2026-02-02', 5000, 'RECALLED')
          returning id`,
    );
    for (const [position, company] of companies.entries()) {
      await tx.execute(sql`insert into demand_signal_companies (signal_id, company_id, position)
        values (${row?.id}, (select id from companies where slug = ${company}), ${position})`);
    }
  });
}

/** The highest `event_seq` of a table's rows, as a number. */
export async function maxEventSeq(
  db: Database,
  table: 'policy_decision_updates' | 'demand_signals',
): Promise<number> {
  const [row] = await queryRows<{ seq: string | null }>(
    db,
    sql`select max(event_seq) as seq from ${sql.identifier(table)}`,
  );
  return Number(row?.seq ?? 0);
}

/** The stored die area of a chip (undefined when there is no such chip). */
export async function storedDieArea(
  db: Database,
  slug: string,
): Promise<number | null | undefined> {
  const rows = await queryRows<{ die_area_mm2: number | null }>(
    db,
    sql`select die_area_mm2 from chips where slug = ${slug}`,
  );
  return rows[0] ? rows[0].die_area_mm2 : undefined;
}
