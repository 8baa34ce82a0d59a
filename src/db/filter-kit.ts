/**
 * The vocabulary filters are declared in (see `filters.ts`). A filter is declared once, per
 * field: the GraphQL input type and description, the SQL predicate, and, for lists that have a
 * subscription, the event attribute it reads and the matcher over it. The GraphQL input type
 * (src/schema/filters.ts), the SQL of every list (old path and planned path) and the
 * subscription matchers (src/pubsub/topics.ts) are all derived from the declaration, so one
 * filter field is one edit.
 *
 * Values reach SQL as bound parameters: a real value, or a drizzle `sql.placeholder` when the
 * planner prepares a statement once and binds values per request.
 */
import { type Column, type SQL, type SQLWrapper, sql } from 'drizzle-orm';
import type { TextKind } from './limits.js';

/** The GraphQL type of a filter field's input, by name (the schema layer maps names to types). */
export type FilterInputType =
  | 'String'
  | 'Boolean'
  | 'Float'
  | 'Date'
  | 'CountryCode'
  | 'CompanyRole'
  | 'PolicyStatus'
  | 'PolicyKind'
  | 'DemandSignalKind';

/** A SQL expression of a row: a column (of a table or an alias) or any SQL. */
export type RowSql = Column | SQL;

/**
 * One attribute of a row that filters compare against: its SQL value (for predicates), and
 * its value as JSON for the event envelope that subscription matchers read.
 */
export interface Attribute<T> {
  /** Postgres type of one value, for casting bound arrays (e.g. `policy_status`, `text`). */
  readonly pgType: string;
  /** The attribute's SQL value over a row of the table `t` (or its alias). */
  value(t: T): RowSql;
  /** The attribute as a JSON value, for the event envelope (default: `to_json(value)`). */
  json?(t: T): SQL;
  /**
   * For a set of slugs reached through links: the predicate "the set contains `slug`", which
   * `exists` answers faster than building the set.
   */
  contains?(t: T, slug: SQLWrapper | unknown): SQL;
}

/** A declared filter field: its input, its SQL and its event matcher. */
export interface FilterField<T, V = unknown> {
  readonly input: FilterInputType;
  /** A list of `input` (`[PolicyStatus!]`) rather than one value. */
  readonly list: boolean;
  /** Shown in GraphiQL for the partner writing the filter. */
  readonly description: string;
  /** For a `String` input: the kind of text it holds, whose length limit it declares. */
  readonly text?: TextKind;
  /** Whether `value` asks for a condition (null, absent and an empty list do not). */
  active(value: V | null | undefined): value is V;
  /** What is bound for `value` (e.g. `%text%` for a substring match). */
  bind(value: V): unknown;
  /** The SQL condition over the row `t`, with the bound value `param` (a value or placeholder). */
  where(t: T, param: unknown): SQL;
  /** The event attribute this field reads, when a subscription can filter on it. */
  readonly attribute?: string;
  /** Whether an event's `attribute` value satisfies `value`. */
  matches?(attribute: unknown, value: V): boolean;
}

/** A filter field of any value type (the constraint of a declaration's fields). */
// biome-ignore lint/suspicious/noExplicitAny: each field has its own value type
export type AnyFilterField<T> = FilterField<T, any>;

/** A filter: the attributes its fields read and its fields, in input order. */
export interface FilterDeclaration<T, Fields extends Record<string, AnyFilterField<T>>> {
  /** GraphQL input type name, e.g. `PolicyDecisionFilter`. */
  readonly name: string;
  readonly description: string;
  readonly attributes: Record<string, Attribute<T>>;
  readonly fields: Fields;
}

/** Any declared filter. */
// biome-ignore lint/suspicious/noExplicitAny: filters over any table
export type AnyFilter = FilterDeclaration<any, Record<string, AnyFilterField<any>>>;

/** The input value of a filter, as GraphQL hands it to resolvers. */
export type FilterValue<F> =
  F extends FilterDeclaration<infer _T, infer Fields>
    ? {
        [K in keyof Fields]?: (Fields[K] extends FilterField<infer _U, infer V> ? V : never) | null;
      }
    : never;

const identity = <V>(value: V) => value;
const present = <V>(value: V | null | undefined): value is V => value != null;
const nonEmpty = <V>(value: readonly V[] | null | undefined): value is readonly V[] =>
  value != null && value.length > 0;

/** Declares a filter; the helpers below build its fields. */
export function defineFilter<T, Fields extends Record<string, AnyFilterField<T>>>(
  declaration: FilterDeclaration<T, Fields>,
): FilterDeclaration<T, Fields> {
  for (const [name, field] of Object.entries(declaration.fields)) {
    if (field.attribute && !declaration.attributes[field.attribute]) {
      throw new Error(`${declaration.name}.${name} reads an undeclared attribute`);
    }
  }
  return declaration;
}

type Common = { input: FilterInputType; description: string; text?: TextKind };

/** `[T!]`: the attribute is any of the given values (an empty list asks for nothing). */
export function anyOf<T>(
  name: string,
  attribute: Attribute<T>,
  options: Common,
): FilterField<T, readonly string[]> {
  return {
    ...options,
    list: true,
    active: nonEmpty,
    bind: (values) => [...values],
    where: (t, param) => sql`${attribute.value(t)} = any(${param}::${sql.raw(attribute.pgType)}[])`,
    attribute: name,
    matches: (value, allowed) => allowed.includes(value as string),
  };
}

/** `[T!]`: the attribute (an array) shares at least one value with the given ones. */
export function overlaps<T>(
  name: string,
  attribute: Attribute<T>,
  options: Common,
): FilterField<T, readonly string[]> {
  return {
    ...options,
    list: true,
    active: nonEmpty,
    bind: (values) => [...values],
    where: (t, param) => sql`${attribute.value(t)} && ${param}::${sql.raw(attribute.pgType)}[]`,
    attribute: name,
    matches: (value, wanted) => (value as string[]).some((item) => wanted.includes(item)),
  };
}

/** One value: the attribute (an array, or a set of linked slugs) contains it. */
export function contains<T>(
  name: string,
  attribute: Attribute<T>,
  options: Common,
): FilterField<T, string> {
  return {
    ...options,
    list: false,
    active: present,
    bind: identity,
    where: (t, param) =>
      attribute.contains
        ? attribute.contains(t, param)
        : sql`${param}::${sql.raw(attribute.pgType)} = any(${attribute.value(t)})`,
    attribute: name,
    matches: (value, wanted) => (value as string[]).includes(wanted),
  };
}

/** One value: the attribute equals it. */
export function equals<T, V extends string | boolean | number>(
  name: string,
  attribute: Attribute<T>,
  options: Common,
): FilterField<T, V> {
  return {
    ...options,
    list: false,
    active: present,
    bind: identity,
    where: (t, param) => sql`${attribute.value(t)} = ${param}::${sql.raw(attribute.pgType)}`,
    attribute: name,
    matches: (value, wanted) => value === wanted,
  };
}

/**
 * One value: the attribute is at least (`>=`) or at most (`<=`) it. A null attribute never
 * matches. Dates compare as `YYYY-MM-DD` text, which orders like the dates.
 */
export function bound<T, V extends string | number>(
  direction: 'atLeast' | 'atMost',
  name: string,
  attribute: Attribute<T>,
  options: Common,
): FilterField<T, V> {
  const operator = direction === 'atLeast' ? sql.raw('>=') : sql.raw('<=');
  return {
    ...options,
    list: false,
    active: present,
    bind: identity,
    where: (t, param) =>
      sql`${attribute.value(t)} ${operator} ${param}::${sql.raw(attribute.pgType)}`,
    attribute: name,
    matches: (value, limit) =>
      value != null && (direction === 'atLeast' ? (value as V) >= limit : (value as V) <= limit),
  };
}

/** One value: the attribute contains it as a substring, ignoring case (`ilike`). */
export function containsText<T>(
  name: string,
  attribute: Attribute<T>,
  options: Common,
): FilterField<T, string> {
  return {
    ...options,
    list: false,
    active: present,
    bind: (text) => `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`,
    where: (t, param) => sql`${attribute.value(t)} ilike ${param}::text`,
    attribute: name,
    matches: (value, wanted) =>
      typeof value === 'string' && value.toLowerCase().includes(wanted.toLowerCase()),
  };
}

/** A column of the row. */
export function column<T>(pgType: string, value: (t: T) => RowSql): Attribute<T> {
  return { pgType, value };
}

/**
 * The slugs of the rows linked to this one through a link table (`link.from = t.id`,
 * `link.to = target.id`), as a set: `contains` is an `exists` over the links.
 */
export function linkedSlugs<T>(options: {
  /** SQL name of the link table and of the target table, e.g. `policy_decision_chips`. */
  link: string;
  target: string;
  /** Link columns pointing at this row and at the target. */
  from: string;
  to: string;
  id: (t: T) => RowSql;
}): Attribute<T> {
  const link = sql.identifier(options.link);
  const target = sql.identifier(options.target);
  const from = sql.identifier(options.from);
  const to = sql.identifier(options.to);
  const slugs = (t: T) =>
    sql`(select array_agg(fx.slug order by fx.slug) from ${link} fl join ${target} fx on fx.id = fl.${to} where fl.${from} = ${options.id(t)})`;
  return {
    pgType: 'text',
    value: slugs,
    json: (t) =>
      sql`coalesce((select json_agg(fx.slug order by fx.slug) from ${link} fl join ${target} fx on fx.id = fl.${to} where fl.${from} = ${options.id(t)}), '[]'::json)`,
    contains: (t, slug) =>
      sql`exists (select 1 from ${link} fl join ${target} fx on fx.id = fl.${to} where fl.${from} = ${options.id(t)} and fx.slug = ${slug}::text)`,
  };
}

/**
 * The slug of the row a foreign key points at, as a set of zero or one slugs: `contains` is
 * "the key points at the row with this slug".
 */
export function referencedSlug<T>(options: {
  /** SQL name of the referenced table, e.g. `chips`. */
  target: string;
  key: (t: T) => RowSql;
}): Attribute<T> {
  const target = sql.identifier(options.target);
  return {
    pgType: 'text',
    value: (t) => sql`array(select fx.slug from ${target} fx where fx.id = ${options.key(t)})`,
    json: (t) =>
      sql`coalesce((select json_agg(fx.slug) from ${target} fx where fx.id = ${options.key(t)}), '[]'::json)`,
    contains: (t, slug) =>
      sql`${options.key(t)} = (select fx.id from ${target} fx where fx.slug = ${slug}::text)`,
  };
}

/**
 * The SQL condition of a filter value over the row `t`: every active field's predicate, joined
 * with `and`; undefined when no field is active. `param` turns a field's bound value into what
 * goes into the SQL (by default one bound parameter, arrays included; the planner passes a
 * placeholder it binds per request).
 */
export function filterWhere<T>(
  filter: AnyFilter,
  t: T,
  value: Record<string, unknown> | null | undefined,
  param: (field: string, bound: unknown) => unknown = (_field, bound) => sql.param(bound),
): SQL | undefined {
  if (!value) return undefined;
  const conditions: SQL[] = [];
  for (const [name, field] of Object.entries(filter.fields) as [
    string,
    FilterField<T, unknown>,
  ][]) {
    const fieldValue = value[name];
    if (!field.active(fieldValue)) continue;
    conditions.push(field.where(t, param(name, field.bind(fieldValue))));
  }
  if (conditions.length === 0) return undefined;
  return sql.join(
    conditions.map((condition) => sql`(${condition})`),
    sql` and `,
  );
}

/**
 * A matcher over event attributes (see `EventEnvelope`): true when every active field of
 * `value` matches the attribute it reads.
 */
export function filterMatcher(
  filter: AnyFilter,
  value: Record<string, unknown> | null | undefined,
): (attributes: Record<string, unknown>) => boolean {
  const checks: ((attributes: Record<string, unknown>) => boolean)[] = [];
  for (const [name, field] of Object.entries(filter.fields) as [
    string,
    FilterField<unknown, unknown>,
  ][]) {
    const fieldValue = value?.[name];
    if (!field.active(fieldValue)) continue;
    const { attribute, matches } = field;
    if (!attribute || !matches) {
      throw new Error(`${filter.name}.${name} cannot filter events`);
    }
    checks.push((attributes) => matches(attributes[attribute], fieldValue));
  }
  return (attributes) => checks.every((check) => check(attributes));
}

/**
 * The event envelope's attributes of a row as one JSON object (`json_build_object`), each
 * attribute under its name; `overrides` replace attributes whose event value differs from the
 * row's (a status change matches on the status it changed to).
 */
export function attributesJson<T>(
  filter: AnyFilter,
  t: T,
  overrides: Record<string, SQL> = {},
): SQL {
  const pairs = Object.entries(filter.attributes).map(([name, attribute]) => {
    const value = overrides[name] ?? attribute.json?.(t) ?? sql`to_json(${attribute.value(t)})`;
    return sql`${name}::text, ${value}`;
  });
  return sql`json_build_object(${sql.join(pairs, sql`, `)})`;
}
