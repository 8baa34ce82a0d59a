/**
 * Export status of chips: which decisions are in force on a date, per `api.md`'s rule.
 *
 * A decision is in force at date D when `announced_on <= D`, `effective_on` is null or `<= D`,
 * and its status at D is APPROVED or IN_EFFECT. Its status at D is the `to_status` of its last
 * history row with `occurred_at` before D+1 00:00Z (ordered by `occurred_at`, then id).
 * The export side is the in-force decision of jurisdiction `from`, with `to` among its
 * destinations, naming the chip and announced last (ties: later `effective_on`, a null one
 * counting as `announced_on`, then slug descending); the import side likewise for jurisdiction
 * `to`.
 */
import { sql } from 'drizzle-orm';
import { type Database, queryRows } from './client.js';
import type { PolicyEffect } from './schema.js';

/** One export-status question: chip row id, ISO country codes, and a `YYYY-MM-DD` date. */
export interface ExportStatusKey {
  chipId: number;
  from: string;
  to: string;
  asOf: string;
}

/** The deciding decision (row id) and effect on each side; null when none is in force. */
export interface ExportStatusRow {
  exportDecisionId: number | null;
  exportEffect: PolicyEffect | null;
  importDecisionId: number | null;
  importEffect: PolicyEffect | null;
}

interface Winner {
  chip_id: number;
  side: 'export' | 'import';
  decision_id: number;
  effect: PolicyEffect;
}

/**
 * DataLoader batch function: one SQL statement per distinct (from, to, asOf) among `keys`,
 * results in key order.
 */
export async function loadExportStatuses(
  db: Database,
  keys: readonly ExportStatusKey[],
): Promise<ExportStatusRow[]> {
  const groups = new Map<
    string,
    { from: string; to: string; asOf: string; chipIds: Set<number> }
  >();
  for (const key of keys) {
    const groupKey = `${key.from}|${key.to}|${key.asOf}`;
    let group = groups.get(groupKey);
    if (!group) {
      group = { from: key.from, to: key.to, asOf: key.asOf, chipIds: new Set() };
      groups.set(groupKey, group);
    }
    group.chipIds.add(key.chipId);
  }
  const answers = new Map<string, ExportStatusRow>();
  await Promise.all(
    [...groups.entries()].map(async ([groupKey, group]) => {
      const winners = await queryRows<Winner>(
        db,
        sql`
          with candidates as (
            select pdc.chip_id, pd.id as decision_id, pd.slug, pd.jurisdiction, pdc.effect,
                   pd.announced_on, coalesce(pd.effective_on, pd.announced_on) as effective_from,
                   (select u.to_status
                      from policy_decision_updates u
                     where u.decision_id = pd.id
                       and u.occurred_at < ((${group.asOf}::date + 1)::timestamp at time zone 'UTC')
                     order by u.occurred_at desc, u.id desc
                     limit 1) as status_at
              from policy_decision_chips pdc
              join policy_decisions pd on pd.id = pdc.decision_id
             where pdc.chip_id = any(${sql.param([...group.chipIds])}::int[])
               and pd.jurisdiction in (${group.from}, ${group.to})
               and ${group.to} = any(pd.destinations)
               and pd.announced_on <= ${group.asOf}::date
               and (pd.effective_on is null or pd.effective_on <= ${group.asOf}::date)
          ), sides as (
            select c.*, 'export' as side from candidates c where c.jurisdiction = ${group.from}
            union all
            select c.*, 'import' as side from candidates c where c.jurisdiction = ${group.to}
          )
          select distinct on (chip_id, side) chip_id, side, decision_id, effect
            from sides
           where status_at in ('APPROVED', 'IN_EFFECT')
           order by chip_id, side, announced_on desc, effective_from desc, slug desc`,
      );
      for (const chipId of group.chipIds) {
        answers.set(`${chipId}|${groupKey}`, {
          exportDecisionId: null,
          exportEffect: null,
          importDecisionId: null,
          importEffect: null,
        });
      }
      for (const winner of winners) {
        const answer = answers.get(`${winner.chip_id}|${groupKey}`);
        if (!answer) continue;
        if (winner.side === 'export') {
          answer.exportDecisionId = Number(winner.decision_id);
          answer.exportEffect = winner.effect;
        } else {
          answer.importDecisionId = Number(winner.decision_id);
          answer.importEffect = winner.effect;
        }
      }
    }),
  );
  return keys.map((key) => {
    const answer = answers.get(`${key.chipId}|${key.from}|${key.to}|${key.asOf}`);
    if (!answer) throw new Error('export status batch lost a key');
    return answer;
  });
}
