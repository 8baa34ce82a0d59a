/**
 * The PGlite template: a data directory already through `initdb`, the migrations and the seed,
 * built once and copied into each new embedded data directory, so a first start opens a ready
 * database (about a second) instead of running `initdb` (PGlite's second WebAssembly instance,
 * several seconds and ~450 MB of RSS the process keeps) plus migrations and seed.
 *
 * A template is the directory `<store>/<flavor>-<key>` (flavor `ts` or `js`), where the key is a SHA-256 over PGlite's version,
 * every file of `drizzle/` (the migrations) and the seed (its module and the data files beside
 * it, `seed/`). A template with another key is never used: a changed migration, seed or PGlite
 * builds a new one (and older ones are removed). Templates are written to a temporary sibling and
 * renamed into place, so a reader never sees a partial one and concurrent builders do not clash
 * (the first rename wins; the others discard their copy). New data directories are copied the
 * same way: into `<dir>.template-<pid>-<n>`, then renamed to `<dir>`.
 *
 * Where it is built: at install (`npm ci` runs `npm run chipgate -- template` after
 * patch-package), in the Docker image (its runtime stage), and otherwise on the first start that
 * needs it (in a child process, so the gateway never holds the `initdb` instance). The default
 * store is `node_modules/.cache/chipgate/pglite-templates` (`npm ci` starts it afresh).
 */
import { fork } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isRunning } from './lock.js';
import { migrationsFolder } from './migrations-folder.js';

/** The default template store, inside the package's `node_modules/.cache` (src/ or dist/). */
export const defaultTemplateStore = fileURLToPath(
  new URL('../../node_modules/.cache/chipgate/pglite-templates', import.meta.url),
);

/** This module's own file (`.ts` under tsx and vitest, `.js` compiled). */
const thisFile = fileURLToPath(import.meta.url);
const extension = path.extname(thisFile);

/** What the template's key is made of (absolute paths; tests point them elsewhere). */
export interface TemplateInputs {
  /** The migrations folder (every file in it counts). */
  migrations: string;
  /** Seed files and folders (the seed module and its `seed/` data folder). */
  seed: string[];
  /** PGlite's version (its data directory format and catalog contents follow it). */
  pgliteVersion: string;
}

/** PGlite's version from its package.json (what the template's key is tied to). */
export function pgliteVersion(): string {
  const require = createRequire(import.meta.url);
  // The package's exports do not list package.json: go from its entry point.
  const entry = require.resolve('@electric-sql/pglite');
  const manifest = path.join(path.dirname(entry), '..', 'package.json');
  return (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
}

/** The inputs of this checkout: `drizzle/`, `seed.ts|js` with `seed/`, installed PGlite. */
export function currentTemplateInputs(): TemplateInputs {
  const dir = path.dirname(thisFile);
  return {
    migrations: migrationsFolder,
    seed: [path.join(dir, `seed${extension}`), path.join(dir, 'seed')],
    pgliteVersion: pgliteVersion(),
  };
}

/** Every file below `root` (or `root` itself when a file), sorted, as absolute paths. */
function filesOf(root: string): string[] {
  if (!statSync(root).isDirectory()) return [root];
  return readdirSync(root, { recursive: true, encoding: 'utf8' })
    .map((entry) => path.join(root, entry))
    .filter((file) => statSync(file).isFile())
    .sort();
}

/**
 * The template key: SHA-256 (hex, first 32 digits) over PGlite's version and each input file's
 * path (relative to its input) and contents. Throws when an input is missing.
 */
export function templateKey(inputs: TemplateInputs = currentTemplateInputs()): string {
  const hash = createHash('sha256');
  hash.update(`pglite ${inputs.pgliteVersion}\0`);
  for (const root of [inputs.migrations, ...inputs.seed]) {
    for (const file of filesOf(root)) {
      hash.update(`${path.basename(root)}/${path.relative(root, file)}\0`);
      hash.update(readFileSync(file));
      hash.update('\0');
    }
  }
  return hash.digest('hex').slice(0, 32);
}

/**
 * The store entry of a key: `<flavor>-<key>`, the flavor `ts` (sources, under tsx) or `js`
 * (compiled). The seed module differs between the two, hence so does the key; the flavor keeps
 * `npm start` and `npm run start:dist` sharing a store from removing each other's template.
 */
export function templateName(key: string): string {
  return `${extension.slice(1)}-${key}`;
}

/** True when `dir` holds a PostgreSQL data directory (PGlite resumes it). */
export function isDataDirectory(dir: string): boolean {
  return existsSync(path.join(dir, 'PG_VERSION'));
}

let temporaryCount = 0;

/** A new sibling path of `target` for a copy in progress, unique to this process. */
export function temporarySibling(target: string, kind: string): string {
  temporaryCount += 1;
  return `${target}.${kind}-${process.pid}-${temporaryCount}`;
}

/**
 * Removes what a crashed build left in `store` (temporary directories of processes that are
 * gone) and this flavor's templates of other keys (older migrations, seed or PGlite).
 */
export function pruneStore(store: string, key: string): void {
  const current = templateName(key);
  const flavor = current.slice(0, current.indexOf('-') + 1);
  for (const entry of readdirSync(store)) {
    const building = /\.building-(\d+)-\d+$/.exec(entry);
    const stale = building
      ? !isRunning(Number(building[1]))
      : entry.startsWith(flavor) && entry !== current;
    if (stale) rmSync(path.join(store, entry), { recursive: true, force: true });
  }
}

/**
 * Renames a complete directory into place. A `target` that already holds a data directory
 * (another process won the race) is kept; an empty one is replaced (rename(2) allows it).
 */
export function publish(source: string, target: string): void {
  try {
    renameSync(source, target);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if ((code === 'ENOTEMPTY' || code === 'EEXIST') && isDataDirectory(target)) return;
    throw error;
  }
}

/**
 * `ensureTemplate(store)` in a child Node process (the same loader as this one: tsx for `.ts`),
 * so `initdb`'s WebAssembly instance and its memory go away with that process.
 */
export async function buildTemplateInChild(store: string): Promise<string> {
  // Under tsx (or vitest) the builder is TypeScript too: tsx's entry (its exports give one file
  // for every condition), as a URL for --import. Compiled, plain node.
  const execArgv =
    extension === '.ts'
      ? ['--import', pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href]
      : [];
  const builder = path.join(path.dirname(thisFile), `template-build${extension}`);
  const child = fork(builder, [store], {
    execArgv,
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  return await new Promise<string>((resolve, reject) => {
    let built: string | undefined;
    child.on('message', (message) => {
      built = (message as { path?: string }).path;
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (code === 0 && built) resolve(built);
      else {
        const why = signal ? `signal ${signal}` : `exit code ${code}`;
        reject(new Error(`building the PGlite template failed (${why}): ${stderr.trim()}`));
      }
    });
  });
}

/** How `prepareDataDirectory` left the data directory. */
export type PreparedBy =
  /** It already held a database: nothing done. */
  | 'existing'
  /** Copied from the current template, which was already there. */
  | 'template'
  /** The template was missing: built (in a child process), then copied. */
  | 'built-template'
  /**
   * The template was missing and could not be built in the store (not writable, e.g. an image
   * whose template was removed): built beside the directory for it alone, then moved in.
   */
  | 'built-in-place';

/**
 * Makes `dir` a migrated, seeded database when it is new (missing or empty): copies the current
 * template of `store` into it, building the template first (in a child process) when missing.
 * When the store cannot take a template (not writable), one is built for this directory alone.
 * A directory that already holds a database is left alone. Call it while holding the
 * directory's lock. Throws when no template can be built (a broken migration: the builder's
 * stderr is in the message) or copied (a full disk).
 */
export async function prepareDataDirectory(
  dir: string,
  templateStore: string = defaultTemplateStore,
): Promise<PreparedBy> {
  const store = path.resolve(templateStore);
  if (isDataDirectory(dir)) return 'existing';
  // A non-empty directory that is no database is not ours to replace: PGlite reports it.
  if (existsSync(dir) && readdirSync(dir).length > 0) return 'existing';
  const key = templateKey();
  let template = path.join(store, templateName(key));
  let by: PreparedBy = 'template';
  if (!isDataDirectory(template)) {
    try {
      template = await buildTemplateInChild(store);
      by = 'built-template';
    } catch {
      // A store this process cannot write: a private store beside the directory, moved in
      // whole. (A build that fails for another reason fails here again, with its message.)
      const own = temporarySibling(dir, 'template-store');
      try {
        publish(await buildTemplateInChild(own), dir);
      } finally {
        rmSync(own, { recursive: true, force: true });
      }
      return 'built-in-place';
    }
  }
  const copy = temporarySibling(dir, 'template');
  try {
    cpSync(template, copy, { recursive: true });
    publish(copy, dir);
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
  return by;
}
