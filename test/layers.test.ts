/**
 * The layering of `src/`: no two parts import each other, directly or around a loop. A part is
 * a folder directly under `src/` (`db/`, `plan/`, `schema/`, `access/`, ...), taken as a whole,
 * or a file directly in `src/`. A loop between parts means neither can be read, tested or
 * replaced without the other (the issue that removed the last ones: `errors.ts` <-> `db/`,
 * `cost.ts` <-> `db/`, `env.ts` <-> `sync/`, `response-size.ts` <-> `live/`, and `context.ts`
 * <-> `access/`, `plan/`, `pubsub/`). Type-only imports count: they tie the parts' meaning.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { importsOf } from './projects.js';

const SRC = path.resolve(import.meta.dirname, '../src');

/** The part of `src/` a source file (relative to `src/`, forward slashes) belongs to. */
function partOf(file: string): string {
  const [first, ...rest] = file.split('/');
  return rest.length > 0 ? `${first}/` : (first as string);
}

/** Every import between two different parts of `src/`: part -> imported parts, with the files. */
function partGraph(): Map<string, Map<string, string[]>> {
  const graph = new Map<string, Map<string, string[]>>();
  const files = readdirSync(SRC, { recursive: true, encoding: 'utf8' })
    .map((file) => file.split(path.sep).join('/'))
    .filter((file) => file.endsWith('.ts'));
  for (const file of files) {
    for (const specifier of importsOf(readFileSync(path.join(SRC, file), 'utf8'))) {
      if (!specifier.startsWith('.')) continue;
      const target = path.posix.normalize(
        path.posix.join(path.posix.dirname(file), specifier.replace(/\.js$/, '.ts')),
      );
      if (target.startsWith('..')) continue;
      const [from, to] = [partOf(file), partOf(target)];
      if (from === to) continue;
      const edges = graph.get(from) ?? new Map<string, string[]>();
      edges.set(to, [...(edges.get(to) ?? []), `${file} -> ${target}`]);
      graph.set(from, edges);
    }
  }
  return graph;
}

/**
 * The loops of a directed graph: its strongly connected components of more than one node
 * (Tarjan's algorithm), each sorted; an empty list when the graph has no cycle.
 */
function loops(graph: ReadonlyMap<string, ReadonlyMap<string, unknown>>): string[][] {
  let index = 0;
  const indexes = new Map<string, number>();
  const lows = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (node: string) => {
    indexes.set(node, index);
    lows.set(node, index);
    index += 1;
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node)?.keys() ?? []) {
      if (!indexes.has(next)) {
        visit(next);
        lows.set(node, Math.min(lows.get(node) as number, lows.get(next) as number));
      } else if (onStack.has(next)) {
        lows.set(node, Math.min(lows.get(node) as number, indexes.get(next) as number));
      }
    }
    if (lows.get(node) === indexes.get(node)) {
      const component: string[] = [];
      let member: string | undefined;
      do {
        member = stack.pop() as string;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const node of graph.keys()) if (!indexes.has(node)) visit(node);
  return found;
}

describe('layers of src/', () => {
  it('the loop finder finds a loop of parts and none in a line of them', () => {
    const edge = (to: string[]) => new Map(to.map((name) => [name, []]));
    expect(
      loops(
        new Map([
          ['errors.ts', edge(['db/'])],
          ['db/', edge(['cost.ts'])],
          ['cost.ts', edge(['errors.ts'])],
          ['app.ts', edge(['db/'])],
        ]),
      ),
    ).toEqual([['cost.ts', 'db/', 'errors.ts']]);
    expect(
      loops(
        new Map([
          ['app.ts', edge(['db/', 'errors.ts'])],
          ['db/', edge(['errors.ts'])],
        ]),
      ),
    ).toEqual([]);
  });

  it('no two parts of src/ import each other, directly or around a loop', () => {
    const graph = partGraph();
    // The graph is real: the app reaches the store and the schema.
    expect(graph.get('app.ts')?.has('db/')).toBe(true);
    expect(graph.get('schema/')?.has('db/')).toBe(true);
    const found = loops(graph).map((component) =>
      component.flatMap((from) => component.flatMap((to) => graph.get(from)?.get(to) ?? [])),
    );
    expect(found).toEqual([]);
  });
});
