/**
 * The slots of the fixed-shape JSON arrays planned statements return, by name: the SQL of
 * plans (`plan-sql.ts`, `layoutArray`) builds each array from these layouts and the planner's
 * shapers (`src/plan/`) read it with them, so no index is written twice. A leaf: it imports
 * nothing.
 */

/** A connection page: `[items, totalCount]` (`totalCount` null unless asked for). */
export const PAGE_SLOTS = { items: 0, total: 1 } as const;
/**
 * A timeline item: its cursor values (`at`, `rank`, `slug`, `id`, the first
 * `TIMELINE_CURSOR.shape.length` slots), the event's kind and its row.
 */
export const TIMELINE_ITEM_SLOTS = { at: 0, rank: 1, slug: 2, id: 3, kind: 4, row: 5 } as const;
/** An export status: each side's effect and deciding decision's row, and the chip's row. */
export const EXPORT_STATUS_SLOTS = {
  exportEffect: 0,
  exportDecision: 1,
  importEffect: 2,
  importDecision: 3,
  chip: 4,
} as const;
/** A slot of an export status row. */
export type ExportStatusSlot = keyof typeof EXPORT_STATUS_SLOTS;
