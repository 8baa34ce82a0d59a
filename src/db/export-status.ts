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
import { type SQL, sql } from 'drizzle-orm';
import { defineLoader } from '../loaders.js';
import { type Database, queryRows } from './client.js';
import type { PolicyEffect } from './schema.js';

/** One export-status question: chip row id, ISO country codes, and a `YYYY-MM-DD` date. */
export interface ExportStatusKey {
  chipId: number;
  from: string;
  to: string;
  asOf: string;
}

/**
 * The deciding decision (row id and slug, the key of its global ID) and effect on each side;
 * null when none is in force.
 */
export interface ExportStatusRow {
  exportDecisionId: number | null;
  exportDecisionSlug: string | null;
  exportEffect: PolicyEffect | null;
  importDecisionId: number | null;
  importDecisionSlug: string | null;
  importEffect: PolicyEffect | null;
}

/**
 * The deciding decision of one side, for one chip: a subquery of at most one row
 * `(decision_id, effect)`: the in-force decision of `jurisdiction` with `destination` among
 * its destinations that names `chip`, announced last. The one definition of the rule: the
 * batch below and the planner both use it.
 */
export function decidingDecisionSql(options: {
  chip: unknown;
  jurisdiction: unknown;
  destination: unknown;
  asOf: unknown;
}): SQL {
  const { chip, jurisdiction, destination, asOf } = options;
  return sql`select pd.id as decision_id, pdc.effect
      from policy_decision_chips pdc
      join policy_decisions pd on pd.id = pdc.decision_id
     where pdc.chip_id = ${chip}
       and pd.jurisdiction = ${jurisdiction}::bpchar
       and ${destination}::text = any(pd.destinations)
       and pd.announced_on <= ${asOf}::date
       and (pd.effective_on is null or pd.effective_on <= ${asOf}::date)
       and (select u.to_status
              from policy_decision_updates u
             where u.decision_id = pd.id
               and u.occurred_at < ((${asOf}::date + 1)::timestamp at time zone 'UTC')
             order by u.occurred_at desc, u.id desc
             limit 1) in ('APPROVED', 'IN_EFFECT')
     order by pd.announced_on desc, coalesce(pd.effective_on, pd.announced_on) desc, pd.slug desc
     limit 1`;
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
      const side = (jurisdiction: string) =>
        decidingDecisionSql({
          chip: sql`c.id`,
          jurisdiction,
          destination: group.to,
          asOf: group.asOf,
        });
      const rows = await queryRows<{
        chip_id: number;
        export_id: number | null;
        export_slug: string | null;
        export_effect: PolicyEffect | null;
        import_id: number | null;
        import_slug: string | null;
        import_effect: PolicyEffect | null;
      }>(
        db,
        sql`select c.id as chip_id, x.decision_id as export_id, xd.slug as export_slug,
                   x.effect as export_effect, m.decision_id as import_id, md.slug as import_slug,
                   m.effect as import_effect
              from unnest(${sql.param([...group.chipIds])}::int[]) c(id)
              left join lateral (${side(group.from)}) x on true
              left join policy_decisions xd on xd.id = x.decision_id
              left join lateral (${side(group.to)}) m on true
              left join policy_decisions md on md.id = m.decision_id`,
      );
      for (const row of rows) {
        answers.set(`${row.chip_id}|${groupKey}`, {
          exportDecisionId: row.export_id == null ? null : Number(row.export_id),
          exportDecisionSlug: row.export_slug,
          exportEffect: row.export_effect,
          importDecisionId: row.import_id == null ? null : Number(row.import_id),
          importDecisionSlug: row.import_slug,
          importEffect: row.import_effect,
        });
      }
    }),
  );
  return keys.map((key) => {
    const answer = answers.get(`${key.chipId}|${key.from}|${key.to}|${key.asOf}`);
    if (!answer) throw new Error('export status batch lost a key');
    return answer;
  });
}

/** Per request: export statuses, one statement per distinct (from, to, asOf). */
export const exportStatuses = defineLoader<ExportStatusKey, ExportStatusRow, { db: Database }>({
  key: (key) => `${key.chipId}|${key.from}|${key.to}|${key.asOf}`,
  batch: (ctx, keys) => loadExportStatuses(ctx.db, keys),
});
