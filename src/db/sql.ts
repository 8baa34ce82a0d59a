/** Small SQL fragments shared by hand-written queries. */
import { type SQL, sql } from 'drizzle-orm';

/** A parenthesized list of bound parameters for `x in (...)`; `values` must not be empty. */
export const inList = (values: readonly unknown[]): SQL =>
  sql`(${sql.join(
    values.map((value) => sql`${value}`),
    sql`, `,
  )})`;
