/**
 * `npm run bench:start`: how long `npm start` takes to be ready, and how much memory the
 * embedded database holds.
 *
 * 1. `npm start` on a new PGlite directory (CHIPGATE_PGLITE_DIR in a temporary directory, no
 *    DATABASE_URL) until `GET /ready` answers 200, for each round:
 *    - cold: a new directory, copied from the PGlite template (built beforehand, as `npm ci`
 *      does, with `npm run chipgate -- template`);
 *    - warm: the same directory again;
 *    - cold without a template: a new directory and an empty template store
 *      (CHIPGATE_PGLITE_TEMPLATE_DIR), so the start builds the template first (initdb,
 *      migrations, seed, in a child process) and then copies it;
 *    - with BENCH_START_BASELINE=<checkout> (e.g. a worktree of main with its own
 *      node_modules): cold and warm `npm start` of that checkout too, the old path, in the
 *      same run and under the same load.
 *    For each: seconds to ready, the gateway process's RSS once ready and after the reference
 *    query (`NESTED_QUERY`, first 50) over HTTP, and its peak.
 * 2. PGlite's own memory options: each candidate opens a copy of that (migrated, seeded)
 *    directory in its own Node process (no gateway), runs the reference query's floor statement
 *    (`FLOOR_SQL`, the same reads in one statement), and reports seconds to ready and RSS
 *    after ready and after the statement. The first row is PGlite's defaults.
 *
 * Settings: BENCH_START_ROUNDS (2): rounds of the starts above, each on new directories;
 * BENCH_START_DIST (0): 1 builds dist/ (`npm run build`) and adds a cold start of the compiled
 * code (`npm run start:dist`, no TypeScript loader);
 * BENCH_START_TIMEOUT (120): seconds a start may take; BENCH_START_CANDIDATES (1): 0 skips
 * part 2. Prints the load average: the machine is shared and every figure moves with it.
 */
import { type ChildProcess, execFileSync, fork, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { PGlite, type PGliteOptions } from '@electric-sql/pglite';
import { freePort, log, num, table } from './report.js';
import { FIRST, FLOOR_SQL, NESTED_QUERY, REQUEST_HEADERS } from './workload.js';

const ROUNDS = Number(process.env.BENCH_START_ROUNDS ?? 2);
const CANDIDATES_ON = process.env.BENCH_START_CANDIDATES !== '0';
const DIST_ON = process.env.BENCH_START_DIST === '1';
const BASELINE = process.env.BENCH_START_BASELINE
  ? path.resolve(process.env.BENCH_START_BASELINE)
  : undefined;
const TIMEOUT_S = Number(process.env.BENCH_START_TIMEOUT ?? 120);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MB = 1024 * 1024;

/** A PGlite option set to try: options for `PGlite.create`, and Postgres settings (`-c`). */
interface Candidate {
  label: string;
  options?: Pick<PGliteOptions, 'initialMemory' | 'relaxedDurability'>;
  settings?: Record<string, string>;
}

const CANDIDATES: Candidate[] = [
  { label: 'PGlite defaults (shared_buffers 128MB)' },
  { label: 'shared_buffers=32MB', settings: { shared_buffers: '32MB' } },
  { label: 'shared_buffers=16MB', settings: { shared_buffers: '16MB' } },
  {
    label: 'shared_buffers=16MB, max_connections=5',
    settings: { shared_buffers: '16MB', max_connections: '5' },
  },
  {
    label: 'shared_buffers=16MB, work_mem=1MB, maintenance_work_mem=16MB',
    settings: { shared_buffers: '16MB', work_mem: '1MB', maintenance_work_mem: '16MB' },
  },
  { label: 'relaxedDurability', options: { relaxedDurability: true } },
];

/** `VmRSS` and `VmHWM` (peak) of a process, in MB (Linux /proc). */
function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]);
  return { rss: field('VmRSS') / 1024, peak: field('VmHWM') / 1024 };
}

/**
 * CPU seconds (user + system) a process used, with its children it waited for (the template
 * builder): fields 14-17 of /proc/<pid>/stat, in clock ticks (100 per second on Linux).
 */
function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0);
  return ticks / 100;
}

/** The pids below `pid` (children, grandchildren, ...). */
function descendants(pid: number): number[] {
  const found: number[] = [];
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    let children = '';
    try {
      children = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8');
    } catch {
      continue;
    }
    for (const child of children.split(' ').filter(Boolean).map(Number)) {
      found.push(child, ...descendants(child));
    }
  }
  return found;
}

/** The Node process that runs the gateway under `npm start` (npm -> sh -> node). */
function gatewayPid(npmPid: number): number | undefined {
  return descendants(npmPid).find((pid) => {
    try {
      const command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      // The shell's command line names the script too; the gateway is the node process.
      return (
        path.basename(command[0] ?? '') === 'node' &&
        command.some((arg) => /src\/(server|start)\.ts$|dist\/(server|start)\.js$/.test(arg))
      );
    } catch {
      return false;
    }
  });
}

/** What one `npm start` measured. */
interface StartFigures {
  readySeconds: number;
  /** CPU seconds the gateway process used until ready (its share of a loaded machine varies). */
  cpuSeconds: number;
  rssReady: number;
  rssAfterQuery: number;
  peak: number;
}

/**
 * Runs `npm start` in the checkout `root` on `dir` (with `vars` added to the environment) until
 * /ready is 200, sends the reference query, stops it.
 */
async function measureStart(
  dir: string,
  root = ROOT,
  vars: Record<string, string> = {},
  script = 'start',
): Promise<StartFigures> {
  const port = await freePort();
  const started = performance.now();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CHIPGATE_PGLITE_DIR: dir,
    CHIPGATE_PORT: String(port),
    CHIPGATE_HOST: '127.0.0.1',
    CHIPGATE_LOG_LEVEL: 'warn',
    ...vars,
  };
  delete env.DATABASE_URL;
  delete env.NODE_ENV;
  // Its own process group, so the stop below reaches npm, the shell and node, and nothing else.
  const child: ChildProcess = spawn('npm', ['run', script, '--silent'], {
    cwd: root,
    env,
    detached: true,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    const base = `http://127.0.0.1:${port}`;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`npm start exited with ${child.exitCode}`);
      if ((performance.now() - started) / 1000 > TIMEOUT_S) {
        throw new Error(`not ready after ${TIMEOUT_S} s`);
      }
      const status = await fetch(`${base}/ready`, { signal: AbortSignal.timeout(2_000) }).then(
        (response) => response.status,
        () => 0,
      );
      if (status === 200) break;
      await sleep(25);
    }
    const readySeconds = (performance.now() - started) / 1000;
    const pid = child.pid === undefined ? undefined : gatewayPid(child.pid);
    if (pid === undefined) throw new Error('cannot find the gateway process under npm start');
    const ready = memoryOf(pid);
    const cpuSeconds = cpuSecondsOf(pid);
    const response = await fetch(`${base}/graphql`, {
      method: 'POST',
      headers: REQUEST_HEADERS,
      body: JSON.stringify({ query: NESTED_QUERY, variables: { first: FIRST } }),
    });
    const body = (await response.json()) as { data?: unknown; errors?: unknown };
    if (response.status !== 200 || !body.data || body.errors) {
      throw new Error(`reference query answered ${response.status}: ${JSON.stringify(body)}`);
    }
    const after = memoryOf(pid);
    return {
      readySeconds,
      cpuSeconds,
      rssReady: ready.rss,
      rssAfterQuery: after.rss,
      peak: after.peak,
    };
  } finally {
    if (child.pid !== undefined && child.exitCode === null) process.kill(-child.pid, 'SIGTERM');
    const timer = setTimeout(() => {
      if (child.pid !== undefined && child.exitCode === null) process.kill(-child.pid, 'SIGKILL');
    }, 15_000);
    await exited;
    clearTimeout(timer);
  }
}

/** What a candidate's process measured (it sends this over IPC). */
interface CandidateFigures {
  readySeconds: number;
  rssReady: number;
  rssAfterQuery: number;
  peak: number;
  sharedBuffers: string;
}

/** In the forked child: opens `dir` with the candidate's options and measures. */
async function candidateChild(dir: string, candidate: Candidate): Promise<CandidateFigures> {
  const settings = Object.entries(candidate.settings ?? {}).flatMap(([name, value]) => [
    '-c',
    `${name}=${value}`,
  ]);
  const started = performance.now();
  const client = await PGlite.create(dir, {
    ...candidate.options,
    ...(settings.length > 0 ? { startParams: [...PGlite.defaultStartParams, ...settings] } : {}),
  });
  await client.query('select 1');
  const readySeconds = (performance.now() - started) / 1000;
  const rssReady = process.memoryUsage.rss() / MB;
  await client.query(FLOOR_SQL, [FIRST]);
  const rssAfterQuery = process.memoryUsage.rss() / MB;
  const shown = await client.query<{ shared_buffers: string }>('show shared_buffers');
  await client.close();
  return {
    readySeconds,
    rssReady,
    rssAfterQuery,
    peak: (process.resourceUsage().maxRSS * 1024) / MB,
    sharedBuffers: shown.rows[0]?.shared_buffers ?? '?',
  };
}

/** Forks this script to measure one candidate on a copy of `template`. */
async function measureCandidate(template: string, candidate: Candidate): Promise<CandidateFigures> {
  const dir = mkdtempSync(path.join(tmpdir(), 'chipgate-start-candidate-'));
  cpSync(template, dir, { recursive: true });
  try {
    const child = fork(
      fileURLToPath(import.meta.url),
      ['--candidate', dir, JSON.stringify(candidate)],
      {
        execArgv: ['--import', import.meta.resolve('tsx')],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      },
    );
    return await new Promise<CandidateFigures>((resolve, reject) => {
      child.once('message', (message) => resolve(message as CandidateFigures));
      child.once('exit', (code) => reject(new Error(`candidate process exited with ${code}`)));
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One row of the start-up table. */
function startRow(label: string, figures: StartFigures): (string | number)[] {
  return [
    label,
    num(figures.readySeconds, 2),
    num(figures.cpuSeconds, 2),
    num(figures.rssReady, 0),
    num(figures.rssAfterQuery, 0),
    num(figures.peak, 0),
  ];
}

async function main(): Promise<void> {
  log(
    `chipgate bench:start: ${cpus().length} CPUs, load average ${num(loadavg()[0], 2)} at start ` +
      '(other work on the machine skews every figure)',
  );
  // The template a fresh `npm ci` leaves (its postinstall runs this command).
  log('  npm run chipgate -- template ...');
  log(
    `  ${execFileSync('npm', ['run', '--silent', 'chipgate', '--', 'template'], { cwd: ROOT, encoding: 'utf8' }).trim()}`,
  );
  if (DIST_ON) {
    log('  npm run build ...');
    execFileSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'ignore' });
    // The compiled gateway's own template (its seed module is the compiled one: another key),
    // as the Docker image builds it.
    log(
      `  ${execFileSync('node', ['dist/cli.js', 'template'], { cwd: ROOT, encoding: 'utf8' }).trim()}`,
    );
  }
  const work = mkdtempSync(path.join(tmpdir(), 'chipgate-start-'));
  try {
    const rows: (string | number)[][] = [];
    let template = '';
    for (let round = 1; round <= ROUNDS; round += 1) {
      const dir = path.join(work, `pgdata-${round}`);
      log(`  round ${round}: npm start, cold (template) ...`);
      rows.push(startRow(`cold, from the template (round ${round})`, await measureStart(dir)));
      log(`  round ${round}: npm start, warm ...`);
      rows.push(startRow(`warm (round ${round})`, await measureStart(dir)));
      template = dir;
      const store = path.join(work, `empty-store-${round}`);
      mkdirSync(store);
      log(`  round ${round}: npm start, cold without a template ...`);
      rows.push(
        startRow(
          `cold WITHOUT a template: builds it, then copies (round ${round})`,
          await measureStart(path.join(work, `pgdata-none-${round}`), ROOT, {
            CHIPGATE_PGLITE_TEMPLATE_DIR: store,
          }),
        ),
      );
      if (DIST_ON) {
        const compiled = path.join(work, `pgdata-dist-${round}`);
        log(`  round ${round}: npm run start:dist, cold (template) ...`);
        rows.push(
          startRow(
            `compiled (npm run start:dist), cold from the template (round ${round})`,
            await measureStart(compiled, ROOT, {}, 'start:dist'),
          ),
        );
      }
      if (BASELINE) {
        const old = path.join(work, `pgdata-baseline-${round}`);
        log(`  round ${round}: baseline npm start (${BASELINE}), cold and warm ...`);
        rows.push(
          startRow(
            `baseline cold: initdb, migrations, seed (round ${round})`,
            await measureStart(old, BASELINE),
          ),
        );
        rows.push(startRow(`baseline warm (round ${round})`, await measureStart(old, BASELINE)));
      }
      log(`  load average ${num(loadavg()[0], 2)}`);
    }
    log('');
    log(
      `npm start on a new PGlite directory (cold), then again on it (warm)${BASELINE ? `; baseline: ${BASELINE}` : ''}:`,
    );
    log(
      table(
        [
          'start',
          's to /ready 200',
          'CPU s to ready',
          'RSS ready MB',
          'RSS after ref. query MB',
          'peak RSS MB',
        ],
        rows,
      ),
    );
    log(`  load average ${num(loadavg()[0], 2)}`);
    if (!CANDIDATES_ON) return;

    const candidateRows: (string | number)[][] = [];
    for (const candidate of CANDIDATES) {
      log(`  PGlite ${candidate.label} ...`);
      const figures = await measureCandidate(template, candidate);
      candidateRows.push([
        candidate.label,
        figures.sharedBuffers,
        num(figures.readySeconds, 2),
        num(figures.rssReady, 0),
        num(figures.rssAfterQuery, 0),
        num(figures.peak, 0),
      ]);
    }
    log('');
    log('PGlite alone (no gateway) on a copy of that directory, per option set:');
    log(
      table(
        [
          'options',
          'shared_buffers',
          's to ready',
          'RSS ready MB',
          'RSS after floor query MB',
          'peak RSS MB',
        ],
        candidateRows,
      ),
    );
    log(`  load average ${num(loadavg()[0], 2)}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--candidate') {
  const figures = await candidateChild(
    process.argv[3] ?? '',
    JSON.parse(process.argv[4] ?? '{}') as Candidate,
  );
  process.send?.(figures);
  process.disconnect?.();
} else {
  await main();
}
