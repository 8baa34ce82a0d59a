/**
 * The raw-SQL floor: a benchmark request (operation name and variables) answered by its
 * workload's one statement, on PGlite or through postgres.js. The statement returns the whole
 * response as text, so the floor's server passes it on without parsing it.
 */
import type { PGlite } from '@electric-sql/pglite';
import type postgres from 'postgres';
import { HOT_WORKLOAD } from './hot-workload.js';
import { REFERENCE_WORKLOAD, type Workload } from './workload.js';

/** The workloads the floor answers, by operation name. */
const FLOOR_WORKLOADS = new Map<string, Workload>(
  [REFERENCE_WORKLOAD, HOT_WORKLOAD].map((workload) => [workload.operationName, workload]),
);

/** A request the floor cannot answer (unknown operation, bad variables): a 400. */
export class FloorRequestError extends Error {}

/** The database the floor reads: an open PGlite or a postgres.js client. */
export type FloorClient = { pglite: PGlite } | { sql: postgres.Sql };

/**
 * Answers one request: the workload named by `operationName`, bound to `variables`. Throws a
 * `FloorRequestError` for a request no workload accepts.
 */
export async function answerOnFloor(
  client: FloorClient,
  operationName: unknown,
  variables: Record<string, unknown> | null | undefined,
): Promise<string> {
  const workload = FLOOR_WORKLOADS.get(String(operationName));
  if (!workload) throw new FloorRequestError(`unknown operationName ${String(operationName)}`);
  let params: ReturnType<Workload['floorParams']>;
  try {
    params = workload.floorParams(variables ?? {});
  } catch (error) {
    throw new FloorRequestError(error instanceof Error ? error.message : String(error));
  }
  if ('pglite' in client) {
    const result = await client.pglite.query<{ body: string }>(workload.floorSql, params);
    return result.rows[0]?.body ?? '';
  }
  const rows = await client.sql.unsafe<{ body: string }[]>(workload.floorSql, params, {
    prepare: true,
  });
  return rows[0]?.body ?? '';
}
