/**
 * Keeps docker-compose.yml and the Dockerfile honest without a Docker engine: the services
 * wire together (database URL, health, ports), every variable the gateway gets is one
 * src/env.ts knows and accepts, and the image exposes, copies and runs what the compose file
 * expects. When /usr/bin/docker-compose is installed it also validates the file itself.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { envSchema, loadEnv } from '../src/env.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const composeFile = path.join(root, 'docker-compose.yml');
const compose: any = parse(readFileSync(composeFile, 'utf8'));
const services: Record<string, any> = compose?.services ?? {};
const postgres = services.postgres;
const gateway = services.gateway;
const seed = services.seed;
const knownVariables = Object.keys(envSchema.shape);

/** A service's `environment`, map or `KEY=value` list, as strings (`undefined`: passed through). */
function environmentOf(service: any): Record<string, string | undefined> {
  const environment = service?.environment ?? {};
  const entries: [string, string | undefined][] = Array.isArray(environment)
    ? environment.map((item: string) => {
        const at = item.indexOf('=');
        return at === -1 ? [item, undefined] : [item.slice(0, at), item.slice(at + 1)];
      })
    : Object.entries(environment).map(([key, value]) => [
        key,
        value === null || value === undefined ? undefined : String(value),
      ]);
  return Object.fromEntries(entries);
}

interface PortMapping {
  hostIp: string | undefined;
  published: string | undefined;
  target: string;
}

/** Short (`[ip:]published:target[/proto]`) or long (`{ target, published, host_ip }`) syntax. */
function portsOf(service: any): PortMapping[] {
  return (service?.ports ?? []).map((port: any): PortMapping => {
    if (typeof port === 'object' && port !== null) {
      return {
        hostIp: port.host_ip,
        published: port.published === undefined ? undefined : String(port.published),
        target: String(port.target),
      };
    }
    const parts = String(port)
      .replace(/\/(tcp|udp)$/, '')
      .split(':');
    const target = parts.pop() as string;
    const published = parts.pop();
    const hostIp = parts.length > 0 ? parts.join(':') : undefined;
    return { hostIp, published, target };
  });
}

/** The healthcheck's command as one string (`CMD`/`CMD-SHELL` list or a plain string). */
function healthcheckCommand(service: any): string {
  const test = service?.healthcheck?.test;
  return Array.isArray(test) ? test.join(' ') : String(test ?? '');
}

function buildOf(service: any): { context: string; dockerfile: string } {
  const build = service?.build;
  if (typeof build === 'string') return { context: build, dockerfile: 'Dockerfile' };
  return { context: build?.context ?? '.', dockerfile: build?.dockerfile ?? 'Dockerfile' };
}

/** `15s`, `1m30s`, `500ms` as milliseconds. */
function durationMs(value: string): number {
  let total = 0;
  for (const [, amount, unit] of String(value).matchAll(/(\d+(?:\.\d+)?)(ms|us|h|m|s)/g)) {
    const factor = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001 }[unit as 'h'];
    total += Number(amount) * factor;
  }
  return total;
}

interface Instruction {
  keyword: string;
  args: string;
}

/** Dockerfile instructions, continuation lines joined and comments dropped. */
function dockerfileInstructions(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  let current = '';
  for (const line of text.split('\n')) {
    if (/^\s*#/.test(line)) continue;
    const continued = /\\\s*$/.test(line);
    current += `${line.replace(/\\\s*$/, '')} `;
    if (continued) continue;
    const match = current.trim().match(/^(\S+)\s*(.*)$/s);
    if (match) {
      instructions.push({ keyword: (match[1] as string).toUpperCase(), args: match[2] as string });
    }
    current = '';
  }
  return instructions;
}

/** `ENV A=1 B=2` (and the legacy `ENV A 1`) as a map; the last value wins. */
function dockerfileEnv(instructions: Instruction[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const { keyword, args } of instructions) {
    if (keyword !== 'ENV') continue;
    if (!args.includes('=')) {
      const [key, ...rest] = args.trim().split(/\s+/);
      env[key as string] = rest.join(' ');
      continue;
    }
    for (const [, key, quoted, bare] of args.matchAll(
      /([A-Za-z_][A-Za-z0-9_]*)=(?:"([^"]*)"|(\S*))/g,
    )) {
      env[key as string] = quoted ?? bare ?? '';
    }
  }
  return env;
}

const dockerfile = path.resolve(root, buildOf(gateway).context, buildOf(gateway).dockerfile);
const instructions = existsSync(dockerfile)
  ? dockerfileInstructions(readFileSync(dockerfile, 'utf8'))
  : [];
const argsOf = (keyword: string) =>
  instructions.filter((instruction) => instruction.keyword === keyword).map((i) => i.args);
const gatewayEnv = environmentOf(gateway);

describe('docker-compose.yml', () => {
  it('has the postgres and gateway services', () => {
    expect(Object.keys(services)).toEqual(expect.arrayContaining(['postgres', 'gateway']));
  });

  it('gives postgres a pg_isready healthcheck, a named data volume and a loopback-only port', () => {
    expect(postgres.image).toMatch(/^postgres:\d+/);
    expect(healthcheckCommand(postgres)).toContain('pg_isready');
    const env = environmentOf(postgres);
    expect(env.POSTGRES_USER).toBeTruthy();
    expect(env.POSTGRES_PASSWORD).toBeTruthy();
    expect(env.POSTGRES_DB).toBeTruthy();
    // pg_isready checks the same user and database the gateway connects with.
    const check = postgres.healthcheck.test as string[];
    if (check.includes('-U')) expect(check[check.indexOf('-U') + 1]).toBe(env.POSTGRES_USER);
    if (check.includes('-d')) expect(check[check.indexOf('-d') + 1]).toBe(env.POSTGRES_DB);

    const volumes: string[] = (postgres.volumes ?? []).map((volume: any) =>
      typeof volume === 'string' ? volume : `${volume.source}:${volume.target}`,
    );
    const data = volumes.find((volume) => volume.split(':')[1] === '/var/lib/postgresql/data');
    expect(data, 'a volume mounted at /var/lib/postgresql/data').toBeDefined();
    const name = (data as string).split(':')[0] as string;
    expect(Object.keys(compose.volumes ?? {}), 'a named volume, declared at top level').toContain(
      name,
    );

    for (const port of portsOf(postgres)) expect(port.hostIp).toBe('127.0.0.1');
  });

  it('builds the gateway from the Dockerfile in the repository', () => {
    const { context } = buildOf(gateway);
    expect(path.resolve(root, context)).toBe(path.resolve(root));
    expect(existsSync(dockerfile)).toBe(true);
    expect(path.relative(root, dockerfile)).toBe('Dockerfile');
  });

  it('starts the gateway once postgres is healthy', () => {
    expect(gateway.depends_on?.postgres?.condition).toBe('service_healthy');
  });

  it("points DATABASE_URL at the postgres service with postgres's credentials", () => {
    const env = environmentOf(postgres);
    const url = new URL(gatewayEnv.DATABASE_URL as string);
    expect(url.protocol).toMatch(/^postgres(ql)?:$/);
    expect(url.hostname).toBe('postgres');
    expect(Object.keys(services)).toContain(url.hostname);
    expect(url.port || '5432').toBe('5432');
    expect(decodeURIComponent(url.username)).toBe(env.POSTGRES_USER);
    expect(decodeURIComponent(url.password)).toBe(env.POSTGRES_PASSWORD);
    expect(decodeURIComponent(url.pathname.slice(1))).toBe(env.POSTGRES_DB);
  });

  it('listens on every interface and publishes CHIPGATE_PORT on loopback', () => {
    expect(gatewayEnv.CHIPGATE_HOST).toBe('0.0.0.0');
    const ports = portsOf(gateway);
    expect(ports.length).toBeGreaterThan(0);
    for (const port of ports) {
      expect(port.target).toBe(gatewayEnv.CHIPGATE_PORT);
      expect(port.hostIp).toBe('127.0.0.1');
    }
  });

  it('sets only variables src/env.ts knows, with values it accepts', () => {
    for (const [name, service] of Object.entries(services)) {
      // PostgreSQL's own images (the primary and its replica) take PostgreSQL's variables.
      if (name === 'postgres' || name === 'replica') continue;
      const unknown = Object.keys(environmentOf(service)).filter(
        (key) => !knownVariables.includes(key),
      );
      expect(unknown, `unknown variables in service ${name}`).toEqual([]);
    }
    const env = loadEnv(gatewayEnv);
    expect(env.CHIPGATE_HOST).toBe('0.0.0.0');
    expect(String(env.CHIPGATE_PORT)).toBe(gatewayEnv.CHIPGATE_PORT);
    expect(env.DATABASE_URL).toBe(gatewayEnv.DATABASE_URL);
  });

  it('health-checks the gateway on /ready and gives it time to drain on stop', () => {
    expect(healthcheckCommand(gateway)).toContain('/ready');
    expect(gateway.restart).toBeTruthy();
    const { CHIPGATE_SHUTDOWN_TIMEOUT_MS } = loadEnv(gatewayEnv);
    expect(durationMs(gateway.stop_grace_period ?? '10s')).toBeGreaterThan(
      CHIPGATE_SHUTDOWN_TIMEOUT_MS,
    );
  });

  it('has a one-shot seed service behind a profile, on the same image and database', () => {
    expect(seed).toBeDefined();
    expect(seed.profiles?.length, 'not started by a plain `up`').toBeGreaterThan(0);
    const command = Array.isArray(seed.command) ? seed.command.join(' ') : String(seed.command);
    expect(command).toBe('npm run db:seed');
    const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
    expect(pkg.scripts['db:seed']).toBeTruthy();
    expect(buildOf(seed)).toEqual(buildOf(gateway));
    if (gateway.image || seed.image) expect(seed.image).toBe(gateway.image);
    expect(environmentOf(seed).DATABASE_URL).toBe(gatewayEnv.DATABASE_URL);
    expect(seed.depends_on?.postgres?.condition).toBe('service_healthy');
    expect(String(seed.restart)).toBe('no');
    loadEnv(environmentOf(seed));
  });

  const hasCompose = existsSync('/usr/bin/docker-compose');
  it.runIf(hasCompose)(
    `is accepted by \`docker-compose config -q\`${hasCompose ? '' : ' (skipped: /usr/bin/docker-compose is not installed)'}`,
    () => {
      for (const args of [
        ['config', '-q'],
        ['--profile', 'seed', 'config', '-q'],
      ]) {
        const result = spawnSync('/usr/bin/docker-compose', ['-f', composeFile, ...args], {
          cwd: root,
          encoding: 'utf8',
          timeout: 30_000,
        });
        expect(result.error).toBeUndefined();
        expect(result.status, `docker-compose ${args.join(' ')}: ${result.stderr}`).toBe(0);
      }
    },
  );
});

describe('Dockerfile', () => {
  it('starts from a Node LTS slim image and installs from the lockfile', () => {
    expect(argsOf('FROM')[0]).toMatch(/^node:(20|22|24)(\.[\d.]+)?-\w+-slim\b/);
    expect(argsOf('RUN').some((run) => /\bnpm ci\b/.test(run))).toBe(true);
    expect(argsOf('COPY').some((copy) => copy.includes('package-lock.json'))).toBe(true);
  });

  it('copies patches/ into every stage before its npm ci, which applies them', () => {
    // Without the directory patch-package finds nothing to apply and still exits 0, so an
    // image would ship the unpatched library (postgres.js crashing on a dropped connection).
    const patches = readdirSync(path.join(root, 'patches')).filter((f) => f.endsWith('.patch'));
    expect(patches).toContain('postgres+3.4.9.patch');
    const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
    expect(pkg.scripts.postinstall).toMatch(/^patch-package\b.*--error-on-fail/);
    // A runtime dependency: `npm ci --omit=dev` runs the postinstall too.
    expect(Object.keys(pkg.dependencies)).toContain('patch-package');
    const stages: Instruction[][] = [];
    for (const instruction of instructions) {
      if (instruction.keyword === 'FROM') stages.push([]);
      stages.at(-1)?.push(instruction);
    }
    const installing = stages.filter((stage) =>
      stage.some((i) => i.keyword === 'RUN' && /\bnpm ci\b/.test(i.args)),
    );
    expect(installing.length).toBeGreaterThanOrEqual(2);
    for (const stage of installing) {
      const install = stage.findIndex((i) => i.keyword === 'RUN' && /\bnpm ci\b/.test(i.args));
      const copy = stage.findIndex(
        (i) => i.keyword === 'COPY' && !i.args.startsWith('--from=') && /^patches\b/.test(i.args),
      );
      expect(copy, 'COPY patches before npm ci').toBeGreaterThanOrEqual(0);
      expect(copy).toBeLessThan(install);
    }
  });

  it('EXPOSEs the port the compose file publishes and listens on it on every interface', () => {
    const exposed = argsOf('EXPOSE').flatMap((args) =>
      args.split(/\s+/).map((p) => p.split('/')[0]),
    );
    expect(exposed).toContain(gatewayEnv.CHIPGATE_PORT);
    const env = dockerfileEnv(instructions);
    expect(env.CHIPGATE_HOST).toBe('0.0.0.0');
    // Reachable from other machines: the schema for API keys only, whatever the host.
    expect(env.CHIPGATE_INTROSPECTION).toBe('keys');
    expect(exposed).toContain(env.CHIPGATE_PORT);
    const unknown = Object.keys(env).filter(
      (key) => /^(CHIPGATE_|DATABASE_URL$)/.test(key) && !knownVariables.includes(key),
    );
    expect(unknown).toEqual([]);
    loadEnv(env);
  });

  it('has a HEALTHCHECK against /ready', () => {
    const [healthcheck] = argsOf('HEALTHCHECK');
    expect(healthcheck).toBeDefined();
    expect(healthcheck).not.toMatch(/^NONE\b/i);
    expect(healthcheck).toContain('/ready');
  });

  it('runs as a non-root USER, with node as the process that gets SIGTERM', () => {
    const users = argsOf('USER');
    const user = users.at(-1);
    expect(user).toBeDefined();
    expect(user?.split(':')[0]).not.toMatch(/^(root|0)$/);
    expect(argsOf('STOPSIGNAL')).toEqual(['SIGTERM']);
    const cmd = argsOf('CMD').at(-1) ?? '';
    expect(() => JSON.parse(cmd), 'exec form, no shell in between').not.toThrow();
    // The compiled code, built by `npm run build` in an earlier stage; no TypeScript loader.
    expect(JSON.parse(cmd)).toEqual(['node', 'dist/server.js']);
    expect(argsOf('RUN').some((run) => /\bnpm run build\b/.test(run))).toBe(true);
    expect(argsOf('COPY').some((copy) => /^--from=\S+ \S*dist\b/.test(copy))).toBe(true);
    // The last USER comes before CMD, so the gateway does not run as root.
    const order = instructions.map((i) => i.keyword);
    expect(order.lastIndexOf('USER')).toBeLessThan(order.lastIndexOf('CMD'));
  });

  it('copies the sources, the drizzle/ migrations and the schema, none of them ignored', () => {
    // From the build context (a `COPY --from=<stage>` copies from an earlier stage instead).
    const sources = argsOf('COPY')
      .filter((args) => !/^--from=/.test(args.trim()))
      .map((args) => args.split(/\s+/).filter((arg) => !arg.startsWith('--')))
      .flatMap((parts) => parts.slice(0, -1));
    expect(sources).toEqual(expect.arrayContaining(['src', 'drizzle', 'schema', 'package.json']));
    const ignored = readFileSync(path.join(root, '.dockerignore'), 'utf8')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith('#'))
      .map((line) => line.replace(/^\/+|\/+$/g, ''));
    for (const source of sources) {
      expect(existsSync(path.join(root, source)), `${source} exists`).toBe(true);
      expect(ignored, `${source} is not in .dockerignore`).not.toContain(source);
    }
    expect(existsSync(path.join(root, 'drizzle'))).toBe(true);
    expect(ignored).toContain('node_modules');
  });
});
