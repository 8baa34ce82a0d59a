/**
 * Operations generated from the schema for the differential test: the planned read path and
 * plain graphql-js execution must answer each of them with the same response text.
 *
 * The generator walks the `GraphQLSchema` from `Query`: it finds a way to reach every object
 * type (a root lookup by slug, a connection's `edges.node`, a nested field) and selects every
 * field of every type through it; then it adds what a walk alone does not reach: aliases of
 * one field with different arguments, fragments on `Node` and `TimelineEvent`, every filter
 * input field and `orderBy` value, page boundaries, `node`/`nodes`, `exportStatus` dates,
 * `@include`/`@skip`, and errors inside the tree. Sample values (slugs, dates) are from the
 * seed dataset; page boundaries come from a probe of each connection (`connectionSites`).
 * How paths, selections, connection sites and filter literals are found is in
 * `schema-walk.ts`; this file holds the operation families built on it.
 *
 * External-source fields (Federal Register, SEC, news) are generated like any other: the test
 * serves them from the fixture upstream. Mutations and subscriptions are not generated (they
 * write, or wait for events; their payloads have tests of their own).
 */
import {
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLObjectType,
  type GraphQLSchema,
  getNamedType,
  isAbstractType,
  isEnumType,
  isInputObjectType,
  isLeafType,
} from 'graphql';
import {
  type ConnectionSite,
  filterValues,
  literal,
  SAMPLE_SLUGS,
  SchemaWalker,
  type SiteProbe,
  wrapSteps,
} from './schema-walk.js';

/** One generated operation: a document and its variables. */
export interface GeneratedOperation {
  /** What it covers, e.g. `field Chip.tpp via chip`. */
  name: string;
  query: string;
  variables?: Record<string, unknown>;
}

/** Second slugs, for aliases of one lookup with different arguments. */
const OTHER_SLUGS: Record<string, string> = {
  Company: 'huawei',
  Chip: 'h20',
  PolicyDecision: 'cn-customs-2026-01-13-h200-not-permitted',
  DemandSignal: 'ds-2025-04-16-amd-mi308-charge',
};

/** The dates of the export-status worked examples, and a date before any decision. */
const AS_OF_DATES = ['2025-12-10', '2026-01-20', '2026-02-01', '2020-01-01'];

/** The operation families over one schema, on the paths and selections of `SchemaWalker`. */
class OperationGenerator extends SchemaWalker {
  /** Every field of every reachable type, and every type's leaves through each of its paths. */
  *everyField(): Generator<GeneratedOperation> {
    for (const [typeName, paths] of this.paths) {
      const type = this.objectType(typeName);
      for (const [i, path] of paths.entries()) {
        const via = path.steps.map((s) => s.field).join('.');
        yield {
          name: `leaves of ${typeName} via ${via}`,
          query: `{ ${wrapSteps(path.steps, this.leaves(type))} }`,
        };
        for (const field of Object.values(type.getFields())) {
          // Leaves one by one on the first path only; object fields on every path.
          if (i > 0 && isLeafType(getNamedType(field.type))) continue;
          const selection = this.fieldSelection(field);
          if (selection === null) continue;
          yield {
            name: `field ${typeName}.${field.name} via ${via}`,
            query: `{ ${wrapSteps(path.steps, selection)} }`,
          };
        }
      }
    }
  }

  /** Page boundaries of one connection site: one document, many variable sets. */
  *pages(site: ConnectionSite, probe: SiteProbe): Generator<GeneratedOperation> {
    const connection = getNamedType(site.field.type) as GraphQLObjectType;
    const pageArgs = ['first', 'last', 'after', 'before'].filter((a) => site.args.has(a));
    const definitions = pageArgs
      .map((a) => `$${a}: ${a === 'first' || a === 'last' ? 'Int' : 'String'}`)
      .join(', ');
    const passed = pageArgs.map((a) => `${a}: $${a}`).join(', ');
    const query = `query (${definitions}) { ${site.wrap(`c: ${site.field.name}(${passed}) { ${this.pageSelection(connection)} }`)} }`;
    const { total, firstCursor, lastCursor } = probe;
    const sets: Record<string, unknown>[] = [
      {},
      { first: 0 },
      { first: 1 },
      { first: total },
      { first: total + 1 },
      { last: 0 },
      { last: 1 },
      { last: total },
      { last: total + 1 },
      { first: 1, last: 1 },
      { first: -1 },
      { last: 101 },
      { after: 'not-a-cursor' },
      { before: 'bm90LWEtY3Vyc29y' },
    ];
    for (const [name, cursor] of [
      ['first', firstCursor],
      ['last', lastCursor],
    ] as const) {
      if (cursor === undefined) continue;
      sets.push(
        { after: cursor },
        { first: 1, after: cursor },
        { first: total, after: cursor },
        { before: cursor },
        { last: 1, before: cursor },
        { last: total, before: cursor },
        { first: 2, after: cursor, before: name === 'first' ? lastCursor : firstCursor },
      );
    }
    for (const variables of sets) {
      const usable = Object.keys(variables).every((k) => site.args.has(k));
      if (!usable) continue;
      yield { name: `page ${site.label} ${JSON.stringify(variables)}`, query, variables };
    }
  }

  /** Every filter input field (with a few values each) and every `orderBy` value. */
  *filtersAndOrders(sites: readonly ConnectionSite[]): Generator<GeneratedOperation> {
    for (const site of sites) {
      const connection = getNamedType(site.field.type) as GraphQLObjectType;
      const selection = this.pageSelection(connection);
      const filterArg = site.field.args.find((a) => a.name === 'filter');
      const filterType = filterArg && getNamedType(filterArg.type);
      if (filterArg && isInputObjectType(filterType)) {
        for (const input of Object.values(filterType.getFields())) {
          for (const value of filterValues(input.name, input.type)) {
            const filter = { [input.name]: value };
            // Half as literals in the document, half as variables.
            const asLiteral = typeof value !== 'string' || value.length % 2 === 0;
            yield asLiteral
              ? {
                  name: `filter ${site.label} ${JSON.stringify(filter)} (literal)`,
                  query: `{ ${site.wrap(`c: ${site.field.name}(first: 5, filter: ${literal(filter, filterArg.type)}) { ${selection} }`)} }`,
                }
              : {
                  name: `filter ${site.label} ${JSON.stringify(filter)} (variable)`,
                  query: `query ($f: ${filterType.name}) { ${site.wrap(`c: ${site.field.name}(first: 5, filter: $f) { ${selection} }`)} }`,
                  variables: { f: filter },
                };
          }
        }
        // All conditions at once.
        const all = Object.fromEntries(
          Object.values(filterType.getFields()).map((f) => [
            f.name,
            filterValues(f.name, f.type)[0],
          ]),
        );
        yield {
          name: `filter ${site.label} every field`,
          query: `query ($f: ${filterType.name}) { ${site.wrap(`c: ${site.field.name}(filter: $f) { ${selection} }`)} }`,
          variables: { f: all },
        };
      }
      const orderArg = site.field.args.find((a) => a.name === 'orderBy');
      const orderType = orderArg && getNamedType(orderArg.type);
      if (orderArg && isEnumType(orderType)) {
        for (const value of orderType.getValues()) {
          for (const page of ['first: 4', 'last: 4']) {
            yield {
              name: `orderBy ${site.label} ${value.name} ${page}`,
              query: `{ ${site.wrap(`c: ${site.field.name}(${page}, orderBy: ${value.name}) { ${selection} }`)} }`,
            };
          }
          yield {
            name: `orderBy ${site.label} ${value.name} (variable) after the first page`,
            query: `query ($o: ${orderType.name}, $after: String) { ${site.wrap(`c: ${site.field.name}(first: 3, after: $after, orderBy: $o) { ${selection} }`)} }`,
            variables: { o: value.name, after: null },
          };
        }
      }
    }
  }

  /** Aliases of one field with different arguments, at the root and inside objects. */
  *aliases(): Generator<GeneratedOperation> {
    for (const field of Object.values(this.query.getFields())) {
      const named = getNamedType(field.type);
      const slug = SAMPLE_SLUGS[named.name];
      const other = OTHER_SLUGS[named.name];
      if (!slug || !other || !field.args.some((a) => a.name === 'slug')) continue;
      const sel = this.leaves(named as GraphQLObjectType);
      yield {
        name: `aliases Query.${field.name}`,
        query: `{ a: ${field.name}(slug: "${slug}") { ${sel} } b: ${field.name}(slug: "${other}") { ${sel} } missing: ${field.name}(slug: "no-such-slug") { ${sel} } ${field.name}(slug: "${slug}") { slug } }`,
      };
    }
    for (const [typeName, slug] of Object.entries(SAMPLE_SLUGS)) {
      const type = this.objectType(typeName);
      const lookup = lowerFirst(typeName);
      for (const field of Object.values(type.getFields())) {
        const variants = argumentVariants(field);
        if (variants.length < 2) continue;
        const parts = variants.map((args, i) => `a${i}: ${this.fieldSelection(field, args)}`);
        yield {
          name: `aliases ${typeName}.${field.name}`,
          query: `{ ${lookup}(slug: "${slug}") { ${parts.join(' ')} } }`,
        };
      }
    }
  }

  /** `node` and `nodes` with fragments, ids of every node type, unknown and malformed ids. */
  *nodes(): Generator<GeneratedOperation> {
    const nodeInterface = this.schema.getType('Node');
    if (!nodeInterface || !isAbstractType(nodeInterface)) throw new Error('no Node interface');
    const members = this.schema.getPossibleTypes(nodeInterface);
    const fragments = members
      .map((m) => `fragment F${m.name} on ${m.name} { ${this.leaves(m)} }`)
      .join(' ');
    const inline = members.map((m) => `... on ${m.name} { ${this.keySelection(m)} }`).join(' ');
    const spreads = members.map((m) => `...F${m.name}`).join(' ');
    const ids = Object.entries(SAMPLE_SLUGS).map(([t, s]) => globalId(t, s));
    const updateId = globalId('PolicyDecisionUpdate', '1');
    const bad = [
      'not base64 at all!',
      globalId('Nothing', 'x'),
      globalId('Chip', ''),
      globalId('Chip', 'no-such-chip'),
      'Q2hpcA',
      '',
    ];
    for (const id of [...ids, updateId, ...bad]) {
      yield {
        name: `node ${JSON.stringify(id)} with inline fragments`,
        query: `query ($id: ID!) { node(id: $id) { __typename id ${inline} } }`,
        variables: { id },
      };
    }
    for (const id of [...ids, updateId]) {
      yield {
        name: `node ${id} with named fragments`,
        query: `query ($id: ID!) { node(id: $id) { ...on Node { id } ${spreads} } } ${fragments}`,
        variables: { id },
      };
    }
    yield {
      name: 'nodes: every type, in order, with duplicates',
      query: `query ($ids: [ID!]!) { nodes(ids: $ids) { __typename id ${spreads} } } ${fragments}`,
      variables: { ids: [...ids, updateId, ...ids.slice().reverse(), ids[0]] },
    };
    yield {
      name: 'nodes: malformed and unknown ids between good ones',
      query: `query ($ids: [ID!]!) { nodes(ids: $ids) { __typename id ${inline} } }`,
      variables: { ids: [ids[0], bad[0], ids[1], bad[1], bad[2], bad[3], ids[2], bad[4]] },
    };
    yield {
      name: 'nodes: empty list, and an alias of node by literal',
      query: `{ none: nodes(ids: []) { id } one: node(id: "${ids[1]}") { id ... on Chip { name } } two: node(id: "${ids[0]}") { id } }`,
    };
  }

  /** The timeline through its union: inline and named fragments, `Node` inside the union. */
  *timeline(): Generator<GeneratedOperation> {
    const union = this.schema.getType('TimelineEvent');
    if (!union || !isAbstractType(union)) throw new Error('no TimelineEvent union');
    const members = this.schema.getPossibleTypes(union);
    const inline = members.map((m) => `... on ${m.name} { ${this.leaves(m)} }`).join(' ');
    const named = members.map((m) => `fragment T${m.name} on ${m.name} { ${this.leaves(m)} }`);
    const page = 'totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }';
    yield {
      name: 'timeline: every member inline',
      query: `{ timeline(first: 100) { ${page} edges { cursor node { __typename ${inline} } } } }`,
    };
    yield {
      name: 'timeline: named fragments, Node inside the union',
      query: `{ timeline(last: 30) { ${page} edges { node { ... on Node { id } ${members.map((m) => `...T${m.name}`).join(' ')} } } } } ${named.join(' ')}`,
    };
    yield {
      name: 'timeline: only __typename',
      query: `{ timeline(first: 40, filter: { chip: "h200" }) { edges { node { __typename } } } }`,
    };
    yield {
      name: 'timeline: one member selected, nested objects',
      query: `{ timeline(first: 50, filter: { jurisdiction: ["CN"] }) { edges { node { ... on PolicyDecisionUpdate { id fromStatus toStatus decision { slug chips { effect chip { slug designer { slug } } } } } } } } }`,
    };
  }

  /** `exportStatus` with and without `asOf`, other countries, aliases. */
  *exportStatus(): Generator<GeneratedOperation> {
    const chip = this.objectType('Chip').getFields().exportStatus;
    if (!chip) throw new Error('no Chip.exportStatus');
    const full = this.keySelectionFull('ExportStatus');
    for (const slug of ['h200', 'h20', 'a100', 'ascend-910c']) {
      yield {
        name: `exportStatus of ${slug} without asOf`,
        query: `{ chip(slug: "${slug}") { exportStatus { ${full} } } }`,
      };
      yield {
        name: `exportStatus of ${slug} at every worked date`,
        query: `{ chip(slug: "${slug}") { ${AS_OF_DATES.map((d, i) => `d${i}: exportStatus(asOf: "${d}") { ${full} }`).join(' ')} } }`,
      };
    }
    yield {
      name: 'exportStatus CN to US and lower-case countries (variables)',
      query: `query ($from: CountryCode!, $to: CountryCode!, $asOf: Date) { chip(slug: "h200") { exportStatus(from: $from, to: $to, asOf: $asOf) { ${full} } } }`,
      variables: { from: 'cn', to: 'us', asOf: '2026-01-20' },
    };
    yield {
      name: 'exportStatus of every chip of a page, asOf variable null',
      query: `query ($asOf: Date) { chips(first: 100) { edges { node { slug exportStatus(asOf: $asOf) { ${full} } } } } }`,
      variables: { asOf: null },
    };
    yield {
      name: 'exportStatus of every chip of a page, asOf variable set',
      query: `query ($asOf: Date) { chips(first: 100) { edges { node { slug exportStatus(asOf: $asOf) { exportEffect importEffect } } } } }`,
      variables: { asOf: '2026-01-20' },
    };
  }

  /** `@include` / `@skip` with variables, on fields, inline fragments and fragment spreads. */
  *directives(): Generator<GeneratedOperation> {
    const query = `query ($a: Boolean!, $b: Boolean!) {
      chip(slug: "h200") {
        slug
        tpp @include(if: $a)
        designer @skip(if: $a) { slug name }
        ... on Chip @include(if: $b) { name policyDecisions(first: 2) { totalCount edges { effect node { slug } } } }
        ...Spec @skip(if: $b)
        demandSignals(first: 2) @include(if: $a) { totalCount @skip(if: $b) edges { node { slug } } }
      }
      timeline(first: 5) @include(if: $b) { edges { node { ... on DemandSignal @skip(if: $a) { slug } ... on PolicyDecision { slug } } } }
    }
    fragment Spec on Chip { memoryGb memoryType exportStatus(asOf: "2026-01-20") { exportEffect } }`;
    for (const a of [true, false]) {
      for (const b of [true, false]) {
        yield { name: `@include/@skip a=${a} b=${b}`, query, variables: { a, b } };
      }
    }
    yield {
      name: '@skip on a root field with a default variable',
      query: `query ($s: Boolean = true) { companies(first: 2) @skip(if: $s) { totalCount } chips(first: 1) { totalCount } }`,
    };
    yield {
      name: '@include literal false on every root field',
      query: `{ chip(slug: "h200") @include(if: false) { slug } __typename }`,
    };
  }

  /** `totalCount` and `pageInfo` at every level, nested three connections deep. */
  *deepPages(): Generator<GeneratedOperation> {
    const page = 'totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }';
    yield {
      name: 'pages at every level: companies > chipsDesigned > policyDecisions',
      query: `{ companies(first: 20) { ${page} edges { cursor node { slug
        chipsDesigned(first: 3) { ${page} edges { cursor node { slug
          policyDecisions(last: 2) { ${page} edges { cursor effect node { slug
            chips { effect chip { slug demandSignals(first: 1) { ${page} edges { node { slug } } } } } } } }
          demandSignals(first: 2, filter: { kind: [ORDER, INTEREST] }) { ${page} edges { node { slug companies { slug } } } } } } }
        policyDecisions(first: 2) { ${page} edges { node { slug } } }
        demandSignals(last: 3) { ${page} edges { cursor node { slug } } } } } } }`,
    };
    yield {
      name: 'pages at every level: policyDecisions > chips > decisions, supersession',
      query: `{ policyDecisions(first: 30, orderBy: ANNOUNCED_ON_ASC) { ${page} edges { node { slug
        supersedes { slug } supersededBy { slug } companies { slug chipsDesigned(first: 1) { ${page} } }
        updates { id fromStatus toStatus occurredAt note decision { slug } }
        chips { effect chip { slug policyDecisions(first: 1, filter: { status: [IN_EFFECT] }) { ${page} edges { effect node { slug } } } } } } } } }`,
    };
    yield {
      name: 'totalCount only, at every level',
      query: `{ companies { totalCount } chips { totalCount } policyDecisions { totalCount } demandSignals { totalCount } timeline { totalCount }
        company(slug: "nvidia") { chipsDesigned { totalCount } demandSignals { totalCount } policyDecisions { totalCount } }
        chip(slug: "h200") { policyDecisions { totalCount } demandSignals { totalCount } } }`,
    };
  }

  /** Errors in the middle of the tree, beside data that must still come back. */
  *errors(): Generator<GeneratedOperation> {
    yield {
      name: 'error: a bad cursor in a nested connection, beside good fields',
      query: `{ chip(slug: "h200") { slug policyDecisions(after: "garbage") { totalCount } demandSignals(first: 1) { totalCount } } company(slug: "nvidia") { slug } }`,
    };
    yield {
      name: 'error: first and last together, nested in a list',
      query: `{ companies(first: 3) { edges { node { slug chipsDesigned(first: 1, last: 1) { totalCount } } } } }`,
    };
    yield {
      name: 'error: a negative page size nested under a nullable lookup',
      query: `{ company(slug: "huawei") { slug demandSignals(first: -5) { totalCount } policyDecisions(first: 1) { edges { node { slug } } } } }`,
    };
    yield {
      name: 'error: a cursor of another list',
      query: `query ($c: String) { chips(first: 2, after: $c) { edges { node { slug } } } }`,
      variables: { c: globalId('Chip', 'h200') },
    };
    yield {
      name: 'error: a malformed id inside nodes, beside a bad nested page',
      query: `query ($ids: [ID!]!) { nodes(ids: $ids) { id ... on Company { slug chipsDesigned(first: 101) { totalCount } } } }`,
      variables: { ids: [globalId('Company', 'nvidia'), '%%%', globalId('Chip', 'h200')] },
    };
    yield {
      name: 'error: malformed node id at the root, beside data',
      query: `{ node(id: "!!") { id } chip(slug: "h20") { slug } }`,
    };
    yield {
      name: 'error: variables that cannot be coerced (HTTP 400)',
      query: `query ($first: Int, $asOf: Date) { chips(first: $first) { totalCount } chip(slug: "h200") { exportStatus(asOf: $asOf) { exportEffect } } }`,
      variables: { first: 'ten', asOf: '2026-13-45' },
    };
    yield {
      name: 'error: a Date variable a scalar refuses (HTTP 400)',
      query: `query ($asOf: Date) { chip(slug: "h200") { exportStatus(asOf: $asOf) { exportEffect } } }`,
      variables: { asOf: 'yesterday' },
    };
    yield {
      name: 'error: a filter variable with an unknown enum value (HTTP 400)',
      query: `query ($f: PolicyDecisionFilter) { policyDecisions(filter: $f) { totalCount } }`,
      variables: { f: { status: ['NOT_A_STATUS'] } },
    };
    yield {
      name: 'error: a required variable missing (HTTP 400)',
      query: `query ($slug: String!) { chip(slug: $slug) { slug } }`,
      variables: {},
    };
    yield {
      name: 'error: a bad date literal (validation)',
      query: `{ chip(slug: "h200") { exportStatus(asOf: "2026-02-30") { exportEffect } } }`,
    };
    yield {
      name: 'error: a bad country in a nested filter variable',
      query: `query ($f: PolicyDecisionFilter) { company(slug: "nvidia") { policyDecisions(filter: $f) { totalCount } } }`,
      variables: { f: { jurisdiction: ['USA'] } },
    };
  }

  /** Everything above, for the probed connection sites. */
  *all(probes: ReadonlyMap<ConnectionSite, SiteProbe>): Generator<GeneratedOperation> {
    yield* this.everyField();
    const sites = [...probes.keys()];
    for (const [site, probe] of probes) yield* this.pages(site, probe);
    yield* this.filtersAndOrders(sites);
    yield* this.aliases();
    yield* this.nodes();
    yield* this.timeline();
    yield* this.exportStatus();
    yield* this.directives();
    yield* this.deepPages();
    yield* this.errors();
  }
}

const lowerFirst = (name: string) => name.charAt(0).toLowerCase() + name.slice(1);

/** A global ID as the API issues it: base64 of `Type:key`. */
export const globalId = (type: string, key: string) =>
  Buffer.from(`${type}:${key}`).toString('base64');

/** Argument lists to alias one field with (none for fields without optional arguments). */
function argumentVariants(field: GraphQLField<unknown, unknown>): string[] {
  const names = new Set(field.args.map((a: GraphQLArgument) => a.name));
  if (names.has('first') && names.has('last')) {
    const variants = ['(first: 1)', '(last: 2)', '(first: 0)'];
    if (names.has('filter')) variants.push('(first: 3, filter: { announcedFrom: "2025-01-01" })');
    return field.name === 'policyDecisions'
      ? variants
      : variants.filter((v) => !v.includes('filter'));
  }
  if (names.has('asOf')) return AS_OF_DATES.map((d) => `(asOf: "${d}")`).concat('');
  if (names.has('first')) return ['(first: 1)', '(first: 3)'];
  return [];
}

/** Every generated operation, given the probes of `connectionSites`. */
export function generateOperations(
  schema: GraphQLSchema,
  probes: ReadonlyMap<ConnectionSite, SiteProbe>,
): GeneratedOperation[] {
  // Boundaries coincide on short lists (total 1: first and last cursor, `first: total`).
  const seen = new Set<string>();
  return [...new OperationGenerator(schema).all(probes)].filter((operation) => {
    const key = `${operation.query}\n${JSON.stringify(operation.variables)}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
