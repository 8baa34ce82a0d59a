/**
 * Plan once, execute many: the envelop plugin that answers operations from their plans.
 *
 * Per document (cached by the hash of its text, bounded LRU) the planner's inputs are
 * prepared once: the operation, its fields with arguments, its conditional selections. Per
 * request: variables are coerced, arguments computed, and the shape of the arguments picks a
 * plan (planned on first use). The plan's statements run with the request's values bound and
 * their JSON is shaped into the response. No field resolver runs for the planned part.
 *
 * A plan with fields resolved around it (external sources), a mutation or a subscription
 * event is executed by graphql-js over a derived schema whose resolvers read the planned
 * values where there are some, and whose payload entity fields run their own planned
 * statement. Whatever the plan cannot answer exactly as the resolvers would (an operation
 * with a field that has no plan, a malformed ID, a value a scalar refuses) is executed by the
 * resolvers instead, so errors read the same on both paths.
 */
import { createHash } from 'node:crypto';
import { MapperKind, mapSchema } from '@graphql-tools/utils';
import {
  BREAK,
  type DocumentNode,
  defaultFieldResolver,
  type ExecutionArgs,
  type ExecutionResult,
  execute,
  type FieldNode,
  type FragmentDefinitionNode,
  GraphQLError,
  GraphQLInterfaceType,
  GraphQLObjectType,
  type GraphQLResolveInfo,
  type GraphQLSchema,
  type GraphQLTypeResolver,
  GraphQLUnionType,
  getOperationAST,
  getVariableValues,
  Kind,
  type OperationDefinitionNode,
  print,
  type ResponsePath,
  visit,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { LRUCache } from 'lru-cache';
import { type Database, runStatement } from '../db/client.js';
import { ErrorCode } from '../errors.js';
import { argumentValues, type DocumentSites, documentSites, shapeSignature } from './arguments.js';
import type { CollectContext } from './collect.js';
import {
  type Bind,
  type DeferredPlan,
  type OperationPlan,
  planOperation,
  type StatementPlan,
  Unplannable,
} from './compile.js';
import { type FieldPlan, fieldPlan } from './metadata.js';
import { DEFERRED, PLANNED, type PlannedObject, ROW, Unplanned } from './shapes.js';

/** Plans kept per operation: one per shape of its arguments. */
const PLANS_PER_OPERATION = 32;

/** A prepared operation of a cached document, with its plans by argument shape. */
interface OperationEntry {
  readonly operation: OperationDefinitionNode;
  readonly fragments: Record<string, FragmentDefinitionNode>;
  readonly sites: DocumentSites;
  readonly plans: LRUCache<string, OperationPlan | Unplannable>;
  /** Whether the document uses `@defer` or `@stream`. */
  readonly incremental: boolean;
}

/** A cached document: its operations by name (`''` for the only one). */
interface DocumentEntry {
  readonly document: DocumentNode;
  readonly operations: Map<string, OperationEntry | null>;
}

/** The plan and bound values of the execution in progress (mixed plans). */
interface Current {
  readonly plan: OperationPlan;
  readonly bind: Bind;
  /** The runs of the plan's deferred fragments: objects by parent row id. */
  readonly deferred: ReadonlyMap<DeferredPlan, Promise<Map<unknown, PlannedObject>>>;
}

const CURRENT = Symbol('chipgate.plan');

/** Options of `createPlanner`. */
export interface PlannerOptions {
  /** The executable schema (built by Pothos). */
  schema: GraphQLSchema;
  /** Documents whose plans are kept (least recently used dropped first); default 1000. */
  maxDocuments?: number;
  /** The clock that gives today's date (default: the system clock). */
  now?: () => Date;
  /** Hears why an operation went to the resolvers (debug). */
  onUnplanned?: (reason: string) => void;
  /**
   * Executes mixed plans and whatever the plan does not answer (default: graphql-js
   * `execute`; the benchmark measures graphql-jit here).
   */
  execute?: (args: ExecutionArgs) => Promise<ExecutionResult> | ExecutionResult;
}

/**
 * What the planner needs of a request's context: the database its statements run on (the
 * primary, or the replica chosen for the request). The app's `Context` has it.
 */
export interface PlanContext {
  db: Database;
}

/** The planner of one app: its plan cache and its `execute`. */
export interface Planner {
  /**
   * Executes an operation (the `execute` of graphql-js, answered from plans). `normal`: the
   * executor that answers an operation whose variables cannot be coerced (default: graphql-js
   * `execute`); the plugin passes yoga's own, so such a request answers as it would without
   * the planner (HTTP 400).
   */
  execute(
    args: ExecutionArgs,
    normal?: (args: ExecutionArgs) => Promise<ExecutionResult> | ExecutionResult,
  ): Promise<ExecutionResult>;
  /**
   * The envelop plugin that makes yoga execute through `execute`, typed for the app's context
   * (any context that carries `db`).
   */
  plugin<TContext extends PlanContext = PlanContext>(): Plugin<TContext>;
  /** Documents and plans cached, for tests and diagnostics. */
  stats(): { documents: number; plans: number };
}

/**
 * The key of a document in the cache: a hash of its printed text (not of the source it was
 * parsed from: plugins may have changed the document since). Computed once per document
 * object; yoga hands the same object for the same text.
 */
function documentHash(document: DocumentNode): string {
  return createHash('sha256').update(print(document)).digest('base64url');
}

/** The response path of a field without list indexes, e.g. `createPolicyDecision.decision`. */
function pathKey(path: ResponsePath | undefined): string {
  const keys: string[] = [];
  for (let at = path; at; at = at.prev) {
    if (typeof at.key === 'string') keys.push(at.key);
  }
  return keys.reverse().join('.');
}

/**
 * The result of a plan that needs no resolver, shaped from the statements' values (a value
 * the plan cannot answer raises `Unplanned` here, before anything is sent).
 */
function plannedResult(plan: OperationPlan, raw: readonly unknown[], bind: Bind): ExecutionResult {
  const data: Record<string, unknown> = {};
  plan.roots.forEach((root, i) => {
    data[root.key] = root.plan ? root.plan.shape.value(raw[i], bind) : root.constant;
  });
  return { data };
}

/** Whether a document uses `@defer` or `@stream` anywhere. */
function usesIncrementalDelivery(document: DocumentNode): boolean {
  let found = false;
  visit(document, {
    Directive(node) {
      if (node.name.value === 'defer' || node.name.value === 'stream') {
        found = true;
        return BREAK;
      }
      return undefined;
    },
  });
  return found;
}

/** Creates the planner of an app over `schema`. */
export function createPlanner(options: PlannerOptions): Planner {
  const { schema } = options;
  const now = options.now ?? (() => new Date());
  const run = async (args: ExecutionArgs): Promise<ExecutionResult> =>
    (await (options.execute ?? execute)(args)) as ExecutionResult;
  const byHash = new LRUCache<string, DocumentEntry>({ max: options.maxDocuments ?? 1000 });
  const byDocument = new WeakMap<DocumentNode, DocumentEntry>();
  const derived = derivedSchema(schema, runEntity, (object, key, ctx) =>
    deferredValue(object, key, ctx),
  );

  function entryOf(document: DocumentNode): DocumentEntry {
    let entry = byDocument.get(document);
    if (entry) return entry;
    const hash = documentHash(document);
    entry = byHash.get(hash);
    if (!entry) {
      entry = { document, operations: new Map() };
      byHash.set(hash, entry);
    }
    byDocument.set(document, entry);
    return entry;
  }

  function operationOf(entry: DocumentEntry, name: string | null | undefined) {
    const key = name ?? '';
    if (entry.operations.has(key)) return entry.operations.get(key) ?? null;
    const operation = getOperationAST(entry.document, name);
    let prepared: OperationEntry | null = null;
    if (operation) {
      const fragments: Record<string, FragmentDefinitionNode> = {};
      for (const definition of entry.document.definitions) {
        if (definition.kind === Kind.FRAGMENT_DEFINITION) {
          fragments[definition.name.value] = definition;
        }
      }
      prepared = {
        operation,
        fragments,
        sites: documentSites(schema, entry.document, operation),
        plans: new LRUCache({ max: PLANS_PER_OPERATION }),
        incremental: usesIncrementalDelivery(entry.document),
      };
    }
    entry.operations.set(key, prepared);
    return prepared;
  }

  /**
   * Answers by the resolvers (`reason`: why not by the plan) through `executor`: yoga's own
   * (`normal`) for an operation with `@defer`/`@stream`, which delivers incrementally.
   */
  const unplanned = async (
    args: ExecutionArgs,
    reason: string,
    executor: (args: ExecutionArgs) => Promise<ExecutionResult> | ExecutionResult,
  ): Promise<ExecutionResult> => {
    options.onUnplanned?.(reason);
    return (await executor(args)) as ExecutionResult;
  };

  /** Runs a planned statement with the request's values; its JSON value, not yet shaped. */
  async function runStatementPlan(ctx: PlanContext, plan: StatementPlan, bind: Bind) {
    const values = plan.statement.params.map((param) => param(bind));
    const [row] = await runStatement(ctx.db, plan.statement.text, values);
    return row?.r ?? null;
  }

  /** A payload entity field of a mixed plan: its planned statement, by the row's id. */
  async function runEntity(
    plan: Extract<FieldPlan, { kind: 'entity' }>,
    parent: unknown,
    ctx: PlanContext & { [CURRENT]?: Current },
    info: GraphQLResolveInfo,
    fallback: () => unknown,
  ) {
    const current = ctx[CURRENT];
    const entity = current?.plan.entities.get(`${info.parentType.name}:${pathKey(info.path)}`);
    if (!current || !entity) return fallback();
    const bind: Bind = { ...current.bind, entityId: plan.id(parent), memo: new Map() };
    try {
      return entity.shape.value(await runStatementPlan(ctx, entity, bind), bind);
    } catch (error) {
      if (error instanceof Unplanned) return fallback();
      throw error;
    }
  }

  async function plannedExecute(
    args: ExecutionArgs,
    normal?: (args: ExecutionArgs) => Promise<ExecutionResult> | ExecutionResult,
  ): Promise<ExecutionResult> {
    const entry = operationOf(entryOf(args.document), args.operationName);
    if (!entry) return run(args);
    const coerced = getVariableValues(
      schema,
      entry.operation.variableDefinitions ?? [],
      (args.variableValues ?? {}) as Record<string, unknown>,
    );
    // Nothing to plan: the normal executor reports the variables as it would without a plan.
    if (coerced.errors) return normal ? ((await normal(args)) as ExecutionResult) : run(args);
    const variables = coerced.coerced;
    // `@defer`/`@stream` are delivered by yoga's executor (`normal`): without it (a
    // subscription event), the operation is planned and answered whole.
    const executor = (entry.incremental && normal) || run;
    const incremental = executor !== run;
    const collect: CollectContext = { schema, fragments: entry.fragments, variables };
    let argsByField: Map<FieldNode, Record<string, unknown>>;
    try {
      argsByField = argumentValues(entry.sites, variables);
    } catch {
      return unplanned(args, 'arguments', executor);
    }
    const signature = `${shapeSignature(entry.sites, collect, argsByField)}${incremental ? '|i' : ''}`;
    let plan = entry.plans.get(signature);
    if (!plan) {
      try {
        plan = planOperation(schema, collect, entry.operation, argsByField, incremental);
      } catch (error) {
        if (!(error instanceof Unplannable)) throw error;
        plan = error;
      }
      entry.plans.set(signature, plan);
    }
    if (plan instanceof Unplannable) return unplanned(args, plan.message, executor);
    const ctx = args.contextValue as PlanContext;
    const bind: Bind = {
      args: argsByField,
      today: now().toISOString().slice(0, 10),
      memo: new Map(),
      ...(plan.deferred.length > 0 ? { deferredIds: new Map() } : {}),
    };
    let raw: unknown[];
    let result: ExecutionResult | undefined;
    try {
      raw = await Promise.all(
        plan.roots.map((root) => (root.plan ? runStatementPlan(ctx, root.plan, bind) : null)),
      );
      if (!plan.mixed) result = plannedResult(plan, raw, bind);
    } catch (error) {
      if (error instanceof Unplanned) return unplanned(args, error.message, executor);
      throw error;
    }
    if (result) return result;
    const rootValue: PlannedObject = Object.create(null);
    rootValue[PLANNED] = entry.operation.operation;
    try {
      plan.roots.forEach((root, i) => {
        if (root.plan) rootValue[root.key] = root.plan.shape.value(raw[i], bind);
      });
    } catch (error) {
      if (error instanceof Unplanned) return unplanned(args, error.message, executor);
      throw error;
    }
    // The deferred fragments' statements start now, after the initial ones, one per fragment.
    const deferred = new Map<DeferredPlan, Promise<Map<unknown, PlannedObject>>>();
    for (const [fragment, ids] of bind.deferredIds ?? []) {
      const running = runDeferred(ctx, fragment, ids, bind);
      // Read by the fragment's resolvers; a failure is theirs to report (in its payload).
      running.catch(() => {});
      deferred.set(fragment, running);
    }
    const current: Current = { plan, bind, deferred };
    const context = Object.create(ctx, { [CURRENT]: { value: current } });
    return (await executor({
      ...args,
      schema: derived,
      rootValue: plan.operation === 'subscription' ? args.rootValue : rootValue,
      contextValue: context,
    })) as ExecutionResult;
  }

  /**
   * Runs a deferred fragment's statement for the parent rows `ids`: its objects by row id.
   * A value the plan cannot shape fails the fragment (its fields report the error in their
   * payload; the resolvers cannot take over there, as the parent is a planned object).
   */
  async function runDeferred(
    ctx: PlanContext,
    fragment: DeferredPlan,
    ids: readonly unknown[],
    bind: Bind,
  ): Promise<Map<unknown, PlannedObject>> {
    const fragmentBind: Bind = { ...bind, ids: [...new Set(ids)], memo: new Map() };
    const values = fragment.statement.params.map((param) => param(fragmentBind));
    const [row] = await runStatement(ctx.db, fragment.statement.text, values);
    const objects = new Map<unknown, PlannedObject>();
    for (const [id, value] of (row?.r ?? []) as [unknown, readonly unknown[]][]) {
      objects.set(id, fragment.shape.value(value, fragmentBind) as PlannedObject);
    }
    return objects;
  }

  /** A field of a `@defer` fragment planned apart, once its statement has answered. */
  async function deferredValue(
    object: PlannedObject,
    key: string,
    ctx: PlanContext & { [CURRENT]?: Current },
  ): Promise<unknown> {
    const marks = object[DEFERRED];
    const current = ctx[CURRENT];
    const fragment = marks?.plans.find((plan) => (plan as DeferredPlan).keys.has(key)) as
      | DeferredPlan
      | undefined;
    const running = fragment && current?.deferred.get(fragment);
    if (!marks || !running) throw new Error(`no deferred run for ${key}`);
    const loaded = (await running).get(marks.id);
    if (!loaded) {
      throw new GraphQLError(
        'The object was deleted while its deferred fields were read; send the operation again.',
        { extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR } },
      );
    }
    return loaded[key];
  }

  return {
    execute: plannedExecute,
    plugin: <TContext extends PlanContext>(): Plugin<TContext> => ({
      onExecute({ executeFn, setExecuteFn }) {
        setExecuteFn((args: ExecutionArgs) => plannedExecute(args, executeFn));
      },
    }),
    stats() {
      let plans = 0;
      for (const entry of byHash.values()) {
        for (const operation of entry.operations.values()) plans += operation?.plans.size ?? 0;
      }
      return { documents: byHash.size, plans };
    },
  };
}

/**
 * An abstract type's `resolveType` for mixed plans: a planned object names its own type;
 * anything else goes to the type's own `resolveType` (`original`), if it has one.
 */
function plannedType(
  original: GraphQLTypeResolver<unknown, unknown> | null | undefined,
): GraphQLTypeResolver<unknown, unknown> {
  return (value, ctx, info, abstract) =>
    (value as PlannedObject | null)?.[PLANNED] ?? original?.(value, ctx, info, abstract);
}

/**
 * The schema mixed plans execute over: the same types and fields, each resolver first
 * answering from the planned object it is given (by response key), then, for a field resolved
 * around the plan, from the parent row the plan kept; payload entity fields run their plan.
 */
function derivedSchema(
  schema: GraphQLSchema,
  runEntity: (
    plan: Extract<FieldPlan, { kind: 'entity' }>,
    parent: unknown,
    ctx: PlanContext,
    info: GraphQLResolveInfo,
    fallback: () => unknown,
  ) => unknown,
  deferredValue: (object: PlannedObject, key: string, ctx: PlanContext) => Promise<unknown>,
): GraphQLSchema {
  return mapSchema(schema, {
    [MapperKind.OBJECT_TYPE]: (type) => {
      const config = type.toConfig();
      const isTypeOf = config.isTypeOf;
      if (!isTypeOf) return type;
      return new GraphQLObjectType({
        ...config,
        isTypeOf: (value, ctx, info) => {
          const planned = (value as PlannedObject | null)?.[PLANNED];
          return planned ? planned === type.name : isTypeOf(value, ctx, info);
        },
      });
    },
    [MapperKind.INTERFACE_TYPE]: (type) => {
      const config = type.toConfig();
      return new GraphQLInterfaceType({ ...config, resolveType: plannedType(config.resolveType) });
    },
    [MapperKind.UNION_TYPE]: (type) => {
      const config = type.toConfig();
      return new GraphQLUnionType({ ...config, resolveType: plannedType(config.resolveType) });
    },
    [MapperKind.OBJECT_FIELD]: (config) => {
      const plan = fieldPlan(config);
      const original = config.resolve ?? defaultFieldResolver;
      return {
        ...config,
        resolve: (
          parent: unknown,
          args: Record<string, unknown>,
          ctx: PlanContext,
          info: GraphQLResolveInfo,
        ) => {
          if (parent !== null && typeof parent === 'object' && PLANNED in parent) {
            const object = parent as PlannedObject;
            const key = info.path.key as string;
            if (Object.hasOwn(object, key)) return object[key];
            if (plan?.kind === 'resolver') {
              return plan.resolve(object[ROW] ?? {}, args, ctx, info);
            }
            const marks = object[DEFERRED];
            if (marks?.plans.some((fragment) => (fragment as DeferredPlan).keys.has(key))) {
              return deferredValue(object, key, ctx);
            }
          }
          if (plan?.kind === 'entity') {
            return runEntity(plan, parent, ctx, info, () => original(parent, args, ctx, info));
          }
          return original(parent, args, ctx, info);
        },
      };
    },
  });
}
