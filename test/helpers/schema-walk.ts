/**
 * The schema side of the operation generator (`operations.ts`): how to reach every object
 * type from `Query` (paths of root lookups by sample slug, connections' `edges.node`, nested
 * fields), the selections written at the end of a path (leaves, keys, pages), the connection
 * sites reached through single objects with the probe query of each, and filter values
 * written as GraphQL literals. Sample slugs and filter values are from the seed dataset.
 */
import {
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLNamedType,
  GraphQLObjectType,
  type GraphQLSchema,
  getNamedType,
  isAbstractType,
  isEnumType,
  isInputObjectType,
  isLeafType,
  isListType,
  isNonNullType,
  isObjectType,
} from 'graphql';

/** A slug of the seed for each type with a root lookup by slug. */
export const SAMPLE_SLUGS: Record<string, string> = {
  Company: 'nvidia',
  Chip: 'h200',
  PolicyDecision: 'us-whitehouse-2025-12-08-h200-approval',
  DemandSignal: 'ds-2026-01-28-h200-400k-approved',
};

/** Filter values to try, by input field name (strings) or by scalar type. */
const STRING_FILTER_VALUES: Record<string, unknown[]> = {
  chip: ['h200', 'a100', 'no-such-chip'],
  company: ['nvidia', 'bytedance'],
  designer: ['nvidia', 'huawei'],
  architecture: ['hopper', 'ASCEND'],
  term: ['export'],
  agency: ['industry-and-security-bureau'],
};
const SCALAR_FILTER_VALUES: Record<string, unknown[]> = {
  Date: ['2025-06-01', '2026-01-15'],
  CountryCode: ['CN', 'us'],
  Boolean: [true, false],
  Float: [4800, 0],
  Int: [1],
};

/** A step of a path from `Query`: a field and the arguments written after its name. */
interface Step {
  readonly key: string;
  readonly field: string;
  readonly args: string;
}

/** A way to reach objects of a type from `Query`. */
interface Path {
  readonly steps: readonly Step[];
  readonly type: GraphQLObjectType;
  /** The type whose field the last step is. */
  readonly parent: string;
  /** True when it passes through a list (several objects reached). */
  readonly viaList: boolean;
}

/** A connection field reached through single objects only, for the page probe. */
export interface ConnectionSite {
  /** e.g. `Company.chipsDesigned via company`. */
  readonly label: string;
  readonly field: GraphQLField<unknown, unknown>;
  /** Keys from `data` to the connection (its alias is `c`). */
  readonly dataPath: readonly string[];
  /** Writes `inner` (the selection of the connection field, aliased `c`) at its place. */
  readonly wrap: (inner: string) => string;
  /** The arguments the connection takes (`first`, `last`, `after`, `before`, ...). */
  readonly args: ReadonlySet<string>;
}

/** What the probe of a connection site found: its size and the cursors of its ends. */
export interface SiteProbe {
  readonly total: number;
  readonly firstCursor?: string;
  readonly lastCursor?: string;
}

/**
 * `inner` written at the end of `steps`: each step's field (aliased when its key differs),
 * its arguments and braces around the rest.
 */
export const wrapSteps = (steps: readonly Step[], inner: string): string =>
  steps.reduceRight(
    (acc, step) =>
      `${step.key === step.field ? '' : `${step.key}: `}${step.field}${step.args} { ${acc} }`,
    inner,
  );

const isConnection = (type: GraphQLNamedType): type is GraphQLObjectType =>
  isObjectType(type) && type.name.endsWith('Connection') && 'edges' in type.getFields();

const requiredArgs = (field: GraphQLField<unknown, unknown>) =>
  field.args.filter((arg) => isNonNullType(arg.type) && arg.defaultValue === undefined);

/** A GraphQL literal of `value` as the input type `type` reads it (enums by name). */
export function literal(value: unknown, type: GraphQLInputType): string {
  if (value === null || value === undefined) return 'null';
  const inner = isNonNullType(type) ? type.ofType : type;
  if (isListType(inner)) {
    const items = Array.isArray(value) ? value : [value];
    return `[${items.map((item) => literal(item, inner.ofType)).join(', ')}]`;
  }
  if (isInputObjectType(inner)) {
    const fields = inner.getFields();
    const entries = Object.entries(value as Record<string, unknown>).map(([name, v]) => {
      const field = fields[name];
      if (!field) throw new Error(`${inner.name} has no field ${name}`);
      return `${name}: ${literal(v, field.type)}`;
    });
    return `{ ${entries.join(', ')} }`;
  }
  if (isEnumType(inner)) return String(value);
  return JSON.stringify(value);
}

/**
 * Paths from `Query` to every object type of one schema, and the selections written at their
 * ends. `OperationGenerator` builds the operation families on it.
 */
export class SchemaWalker {
  readonly paths = new Map<string, Path[]>();
  readonly query: GraphQLObjectType;

  constructor(readonly schema: GraphQLSchema) {
    const query = schema.getQueryType();
    if (!query) throw new Error('no Query type');
    this.query = query;
    this.walk();
  }

  /** The arguments to reach through `field` in a walk; null when it cannot be walked. */
  walkArgs(field: GraphQLField<unknown, unknown>): string | null {
    const required = requiredArgs(field);
    if (required.length > 0) {
      const named = getNamedType(field.type).name;
      const slug = SAMPLE_SLUGS[named];
      if (required.length === 1 && required[0]?.name === 'slug' && slug) {
        return `(slug: ${JSON.stringify(slug)})`;
      }
      return null;
    }
    return field.args.some((arg) => arg.name === 'first') ? '(first: 3)' : '';
  }

  /**
   * Breadth first from `Query`: for each object type, its shortest path, and a second one
   * from another parent type when there is one (a nested place, planned differently).
   */
  walk() {
    const queue: Path[] = [];
    const expand = (from: Path | undefined, type: GraphQLObjectType) => {
      for (const field of Object.values(type.getFields())) {
        const args = this.walkArgs(field);
        if (args === null) continue;
        const named = getNamedType(field.type);
        if (!isObjectType(named)) continue;
        const steps = [...(from?.steps ?? []), { key: field.name, field: field.name, args }];
        if (steps.length > 6) continue;
        const viaList = (from?.viaList ?? false) || isListType(unwrapNonNull(field.type));
        const path: Path = { steps, type: named, parent: type.name, viaList };
        const known = this.paths.get(named.name);
        if (!known) {
          this.paths.set(named.name, [path]);
          queue.push(path);
        } else if (known.length === 1 && known[0]?.parent !== type.name) {
          known.push(path);
        }
      }
    };
    expand(undefined, this.query);
    for (let path = queue.shift(); path; path = queue.shift()) expand(path, path.type);
  }

  /** Arguments for a field inside a generated selection (null: leave the field out). */
  selectionArgs(field: GraphQLField<unknown, unknown>): string | null {
    if (requiredArgs(field).length > 0) return null;
    return field.args.some((arg) => arg.name === 'first') ? '(first: 2)' : '';
  }

  /**
   * A selection of `type` that identifies what it holds: `__typename id slug` for nodes,
   * every member for abstract types, and for value objects (pages, listings, provenance)
   * every field, nested the same way.
   */
  keySelection(type: GraphQLNamedType, depth = 0): string {
    if (isLeafType(type)) return '';
    if (isAbstractType(type)) {
      const members = this.schema.getPossibleTypes(type);
      return `__typename ${members.map((m) => `... on ${m.name} { ${this.keySelection(m, depth)} }`).join(' ')}`;
    }
    if (!isObjectType(type)) return '';
    const fields = type.getFields();
    if ('id' in fields) return `__typename id${'slug' in fields ? ' slug' : ''}`;
    const parts: string[] = [];
    for (const field of Object.values(fields)) {
      const args = this.selectionArgs(field);
      if (args === null) continue;
      const named = getNamedType(field.type);
      if (isLeafType(named)) parts.push(field.name);
      else if (depth < 4)
        parts.push(`${field.name}${args} { ${this.keySelection(named, depth + 1)} }`);
    }
    return parts.join(' ');
  }

  /** The selection of one field: its name, arguments and a key selection of its type. */
  fieldSelection(field: GraphQLField<unknown, unknown>, args?: string): string | null {
    const ownArgs = args ?? this.selectionArgs(field);
    if (ownArgs === null) return null;
    const named = getNamedType(field.type);
    if (isLeafType(named)) return `${field.name}${ownArgs}`;
    return `${field.name}${ownArgs} { ${this.keySelection(named)} }`;
  }

  /** Every leaf field of `type` (without required arguments) and `__typename`. */
  leaves(type: GraphQLObjectType): string {
    const names = Object.values(type.getFields())
      .filter((f) => isLeafType(getNamedType(f.type)) && this.selectionArgs(f) !== null)
      .map((f) => `${f.name}${this.selectionArgs(f)}`);
    return ['__typename', ...names].join(' ');
  }

  objectType(name: string): GraphQLObjectType {
    const type = this.schema.getType(name);
    if (!(type instanceof GraphQLObjectType)) throw new Error(`${name} is not an object type`);
    return type;
  }

  /** Connection fields reached through single objects: roots and lookups' connections. */
  connectionSites(): ConnectionSite[] {
    const sites: ConnectionSite[] = [];
    const add = (type: GraphQLObjectType, steps: readonly Step[]) => {
      for (const field of Object.values(type.getFields())) {
        if (!isConnection(getNamedType(field.type))) continue;
        if (requiredArgs(field).length > 0) continue;
        const via = steps.map((s) => s.field).join('.');
        sites.push({
          label: `${type.name}.${field.name}${via ? ` via ${via}` : ''}`,
          field,
          dataPath: [...steps.map((s) => s.key), 'c'],
          wrap: (inner) => wrapSteps(steps, inner),
          args: new Set(field.args.map((a) => a.name)),
        });
      }
    };
    add(this.query, []);
    for (const [typeName, slug] of Object.entries(SAMPLE_SLUGS)) {
      const lookup = Object.values(this.query.getFields()).find(
        (f) => getNamedType(f.type).name === typeName && f.args.some((a) => a.name === 'slug'),
      );
      if (!lookup) continue;
      add(this.objectType(typeName), [
        { key: lookup.name, field: lookup.name, args: `(slug: ${JSON.stringify(slug)})` },
      ]);
    }
    return sites;
  }

  /** The selection of a page: counts, page info, cursors and the nodes' keys. */
  pageSelection(connection: GraphQLObjectType): string {
    const edges = getNamedType(connection.getFields().edges?.type);
    if (!isObjectType(edges)) throw new Error(`${connection.name}.edges`);
    const edgeLeaves = Object.values(edges.getFields())
      .filter((f) => isLeafType(getNamedType(f.type)))
      .map((f) => f.name);
    const node = getNamedType(edges.getFields().node?.type);
    if (!node) throw new Error(`${edges.name}.node`);
    const extra = Object.values(connection.getFields())
      .filter((f) => !['edges', 'pageInfo', 'totalCount'].includes(f.name))
      .map((f) => this.fieldSelection(f))
      .filter((s): s is string => s !== null);
    return [
      'totalCount',
      'pageInfo { hasNextPage hasPreviousPage startCursor endCursor }',
      `edges { ${edgeLeaves.join(' ')} node { ${this.keySelection(node)} } }`,
      ...extra,
    ].join(' ');
  }

  /** Every field of a type, nested objects by key (for small value types). */
  keySelectionFull(typeName: string): string {
    const type = this.objectType(typeName);
    return Object.values(type.getFields())
      .map((f) => this.fieldSelection(f))
      .filter((s): s is string => s !== null)
      .join(' ');
  }
}

const unwrapNonNull = (type: GraphQLField<unknown, unknown>['type']) =>
  isNonNullType(type) ? type.ofType : type;

/** Values to try for one filter input field. */
export function filterValues(name: string, type: GraphQLInputType): unknown[] {
  const named = getNamedType(type);
  const list = isListType(isNonNullType(type) ? type.ofType : type);
  let values: unknown[];
  if (isEnumType(named)) values = named.getValues().map((v) => v.name);
  else if (named.name === 'String') values = STRING_FILTER_VALUES[name] ?? ['x'];
  else values = SCALAR_FILTER_VALUES[named.name] ?? [];
  if (values.length === 0) throw new Error(`no filter values for ${name}: ${named.name}`);
  if (!list) return values;
  return [...values.map((v) => [v]), values.slice(0, 2), []];
}

/** The connection sites to probe before generating (see `SiteProbe`). */
export function connectionSites(schema: GraphQLSchema): ConnectionSite[] {
  return new SchemaWalker(schema).connectionSites();
}

/** The probe query of a site: its size and every cursor (pages of at most 100). */
export function probeQuery(site: ConnectionSite): string {
  return `{ ${site.wrap(`c: ${site.field.name}(first: 100) { totalCount edges { cursor } }`)} }`;
}

/**
 * Probes every connection site of `schema` with `post` (an app's `/graphql`, e.g. `postOn`
 * bound to the resolver path): its total and first and last cursors, for the generator.
 * Throws, naming the site and the response, when a probe does not answer a page.
 */
export async function probeSites(
  schema: GraphQLSchema,
  post: (query: string) => Promise<{ status: number; text: string }>,
): Promise<Map<ConnectionSite, SiteProbe>> {
  const probes = new Map<ConnectionSite, SiteProbe>();
  for (const site of connectionSites(schema)) {
    const { status, text } = await post(probeQuery(site));
    const body = JSON.parse(text) as { data?: Record<string, unknown>; errors?: unknown[] };
    let at: unknown = body.data;
    for (const key of site.dataPath) at = (at as Record<string, unknown> | null)?.[key];
    const page = at as { totalCount: number; edges: { cursor: string }[] } | null | undefined;
    if (status !== 200 || body.errors || !page) {
      throw new Error(`probe of ${site.label} failed: ${text}`);
    }
    probes.set(site, {
      total: page.totalCount,
      ...(page.edges[0] ? { firstCursor: page.edges[0].cursor } : {}),
      ...(page.edges.length > 0 ? { lastCursor: page.edges.at(-1)?.cursor } : {}),
    });
  }
  return probes;
}
