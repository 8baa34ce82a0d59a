/**
 * Reads a V8 CPU profile (`.cpuprofile`, as `node --cpu-prof` or the inspector writes it) and
 * says where the time went: self time per function and per package.
 */
import path from 'node:path';

/** The parts of a V8 `Profiler.Profile` used here. */
export interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  }[];
  startTime: number;
  endTime: number;
  samples?: number[];
  /** Microseconds between consecutive samples. */
  timeDeltas?: number[];
}

/** Self time of one function or package. */
export interface SelfTime {
  name: string;
  /** `package/file:line` or `src/file:line`; empty for V8 pseudo-frames such as GC. */
  location: string;
  selfMs: number;
  /** Share of busy (non-idle) time, 0..1. */
  share: number;
}

/** Where a profile's busy time went. */
export interface ProfileSummary {
  /** Time the thread was doing anything (all but `(idle)`), in milliseconds. */
  busyMs: number;
  idleMs: number;
  /** Top functions by self time. */
  functions: SelfTime[];
  /** Self time per package (`node_modules` package, `node:` core, `chipgate src`, V8). */
  packages: SelfTime[];
  /** Self time per layer of the stack (GraphQL server, Pothos, drizzle, driver, GC, ...). */
  layers: SelfTime[];
}

/** The layer of the stack a package (as `groupOf` names it) belongs to. */
function layerOf(group: string): string {
  if (group === '(garbage collector)') return 'garbage collection';
  if (group.startsWith('@pothos/')) return 'Pothos (schema plugins, selection mapping)';
  if (group === 'drizzle-orm') return 'drizzle-orm (SQL building, row mapping)';
  if (group === 'postgres' || group === '@electric-sql/pglite' || group.startsWith('wasm://')) {
    return 'database driver / embedded database';
  }
  if (
    group === 'graphql' ||
    group === 'graphql-yoga' ||
    group === 'graphql-scalars' ||
    group === 'dataloader' ||
    /^@(graphql-tools|graphql-yoga|envelop|whatwg-node|escape\.tech)\//.test(group)
  ) {
    return 'GraphQL server (yoga, executor, graphql-js)';
  }
  if (group === 'node core' || group === '(native)' || group === '(program)') {
    return 'Node core, native, V8 (http, buffers)';
  }
  if (group === 'chipgate src') return 'chipgate src';
  return 'other';
}

const PSEUDO_FRAME = /^\(.*\)$/;

/** `graphql`, `@pothos/core`, ... for a URL inside node_modules (the innermost package). */
function packageOf(url: string): string | undefined {
  const marker = '/node_modules/';
  const at = url.lastIndexOf(marker);
  if (at < 0) return undefined;
  const [first, second] = url.slice(at + marker.length).split('/');
  return first?.startsWith('@') ? `${first}/${second}` : first;
}

function shortLocation(url: string, line: number): string {
  if (!url) return '';
  const file = url.startsWith('file://') ? new URL(url).pathname : url;
  const pkg = packageOf(file);
  let shown: string;
  if (pkg) {
    const inner = file.slice(file.lastIndexOf(`/node_modules/${pkg}/`) + `/node_modules/`.length);
    shown = inner;
  } else if (path.isAbsolute(file)) {
    shown = path.relative(process.cwd(), file);
  } else {
    shown = file;
  }
  return `${shown}:${line + 1}`;
}

function groupOf(functionName: string, url: string): string {
  if (!url) return PSEUDO_FRAME.test(functionName) ? functionName : '(native)';
  if (url.startsWith('node:')) return 'node core';
  const pkg = packageOf(url);
  if (pkg) return pkg;
  if (url.includes('/src/')) return 'chipgate src';
  if (url.includes('/bench/')) return 'bench';
  return url;
}

function top(map: Map<string, SelfTime>, busyMs: number, limit: number): SelfTime[] {
  return [...map.values()]
    .map((entry) => ({ ...entry, share: busyMs > 0 ? entry.selfMs / busyMs : 0 }))
    .sort((a, b) => b.selfMs - a.selfMs)
    .slice(0, limit);
}

/** Self time per function and per package, busiest first (`limit` entries each). */
export function summarizeProfile(profile: CpuProfile, limit = 15): ProfileSummary {
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  const selfMicros = new Map<number, number>();
  // Each sample stands for the time until the next one (as Chrome DevTools counts it).
  for (let i = 0; i < samples.length; i += 1) {
    const id = samples[i] as number;
    selfMicros.set(id, (selfMicros.get(id) ?? 0) + (deltas[i + 1] ?? 0));
  }
  const functions = new Map<string, SelfTime>();
  const packages = new Map<string, SelfTime>();
  const layers = new Map<string, SelfTime>();
  const add = (map: Map<string, SelfTime>, name: string, location: string, ms: number) => {
    const entry = map.get(`${name}@${location}`) ?? { name, location, selfMs: 0, share: 0 };
    entry.selfMs += ms;
    map.set(`${name}@${location}`, entry);
  };
  let busyMicros = 0;
  let idleMicros = 0;
  for (const node of profile.nodes) {
    const micros = selfMicros.get(node.id) ?? 0;
    if (micros === 0) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') {
      idleMicros += micros;
      continue;
    }
    busyMicros += micros;
    const ms = micros / 1000;
    add(functions, functionName || '(anonymous)', shortLocation(url, lineNumber), ms);
    const group = groupOf(functionName, url);
    add(packages, group, '', ms);
    add(layers, layerOf(group), '', ms);
  }
  const busyMs = busyMicros / 1000;
  return {
    busyMs,
    idleMs: idleMicros / 1000,
    functions: top(functions, busyMs, limit),
    packages: top(packages, busyMs, limit),
    layers: top(layers, busyMs, limit),
  };
}
