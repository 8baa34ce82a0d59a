/**
 * A document's arguments and conditions, per request: the coerced arguments of every field
 * that takes some, and the signature of what in them changes a plan's shape. Values that only
 * fill a statement's parameters (a page size, a slug, a date) do not change the signature;
 * presence, empty lists, enum values (an order), `@skip`/`@include` conditions and active `@defer` do.
 */
import {
  type DocumentNode,
  type FieldNode,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLSchema,
  getArgumentValues,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  Kind,
  type OperationDefinitionNode,
  TypeInfo,
  visit,
  visitWithTypeInfo,
} from 'graphql';
import { type CollectContext, deferredFragment, included } from './collect.js';

/** A field of the document that takes arguments. */
export interface ArgumentSite {
  readonly node: FieldNode;
  readonly field: GraphQLField<unknown, unknown>;
  /** The name of the type the field belongs to. */
  readonly parent: string;
}

/** What a document's requests are evaluated against. */
export interface DocumentSites {
  /** Fields with arguments, in document order. */
  readonly arguments: readonly ArgumentSite[];
  /** Selections with `@skip` or `@include`, in document order. */
  readonly conditions: readonly { directives?: readonly unknown[] }[];
}

/** The fields with arguments and the conditional selections of an operation and its fragments. */
export function documentSites(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
): DocumentSites {
  const sites: ArgumentSite[] = [];
  const conditions: { directives?: readonly unknown[] }[] = [];
  const typeInfo = new TypeInfo(schema);
  const definitions = document.definitions.filter(
    (definition) => definition === operation || definition.kind === Kind.FRAGMENT_DEFINITION,
  );
  const conditional = (node: { directives?: readonly { name: { value: string } }[] }) => {
    if (
      node.directives?.some(
        (d) => d.name.value === 'skip' || d.name.value === 'include' || d.name.value === 'defer',
      )
    ) {
      conditions.push(node);
    }
  };
  for (const definition of definitions) {
    visit(
      definition,
      visitWithTypeInfo(typeInfo, {
        Field(node) {
          conditional(node);
          const field = typeInfo.getFieldDef();
          if (field && field.args.length > 0) {
            sites.push({
              node,
              field: field as GraphQLField<unknown, unknown>,
              parent: typeInfo.getParentType()?.name ?? '',
            });
          }
        },
        InlineFragment: conditional,
        FragmentSpread: conditional,
      }),
    );
  }
  return { arguments: sites, conditions };
}

/**
 * The coerced arguments of every site (defaults applied). Throws the `GraphQLError` graphql-js
 * would raise for an argument that does not coerce.
 */
export function argumentValues(
  sites: DocumentSites,
  variables: Readonly<Record<string, unknown>>,
): Map<FieldNode, Record<string, unknown>> {
  const values = new Map<FieldNode, Record<string, unknown>>();
  for (const site of sites.arguments) {
    values.set(site.node, getArgumentValues(site.field, site.node, variables));
  }
  return values;
}

/** The shape of one input value: what of it a plan depends on. */
function shapeOf(value: unknown, type: GraphQLInputType): string {
  if (value === null || value === undefined) return '_';
  if (isNonNullType(type)) return shapeOf(value, type.ofType);
  if (isListType(type)) return Array.isArray(value) && value.length === 0 ? '[0]' : '[+]';
  if (isEnumType(type)) return String(value);
  if (isInputObjectType(type)) {
    const fields = type.getFields();
    const record = value as Record<string, unknown>;
    return `{${Object.keys(fields)
      .map((name) => shapeOf(record[name], (fields[name] as { type: GraphQLInputType }).type))
      .join(',')}}`;
  }
  return '1';
}

/** The signature of a request: the plan it needs, among the document's plans. */
export function shapeSignature(
  sites: DocumentSites,
  context: CollectContext,
  args: ReadonlyMap<FieldNode, Record<string, unknown>>,
): string {
  let signature = '';
  for (const node of sites.conditions) {
    signature += included(context, node) ? '1' : '0';
    // `@defer(if: $x)`: a deferred fragment has a plan of its own (see compile.ts).
    if (deferredFragment(context, node)) signature += 'd';
  }
  for (const site of sites.arguments) {
    const values = args.get(site.node) ?? {};
    signature += '|';
    for (const arg of site.field.args) signature += `${shapeOf(values[arg.name], arg.type)};`;
  }
  return signature;
}
