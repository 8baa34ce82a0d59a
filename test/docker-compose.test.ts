/**
 * Keeps docker-compose.yml and the Dockerfile honest without a Docker engine: the services
 * wire together (database URL, health, ports), every variable the gateway gets is one
 * src/env.ts knows and accepts, and the image exposes, copies and runs what the compose file
 * expects. The compose file is read as `docker-compose config` normalizes it (Debian's
 * docker-compose; CI installs it, and there a missing one fails the run; elsewhere those checks
 * are skipped and say so); the Dockerfile as dockerfile-ast parses it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DockerfileParser, type Instruction } from 'dockerfile-ast';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { envSchema, loadEnv } from '../src/env.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const composeFile = path.join(root, 'docker-compose.yml');
const knownVariables = Object.keys(envSchema.shape);

const DOCKER_COMPOSE = '/usr/bin/docker-compose';
const composeRuns = existsSync(DOCKER_COMPOSE) || Boolean(process.env.CI);

/** `docker-compose config` of the file (with `profiles` enabled): its normalized YAML, parsed. */
function composeConfig(profiles: string[] = []): any {
  const result = spawnSync(
    DOCKER_COMPOSE,
    ['-f', composeFile, ...profiles.flatMap((profile) => ['--profile', profile]), 'config'],
    { cwd: root, encoding: 'utf8', timeout: 30_000 },
  );
  expect(result.error).toBeUndefined();
  expect(result.status, `docker-compose config: ${result.stderr}`).toBe(0);
  return parse(result.stdout);
}

/** A normalized port (`[ip:]published:target/proto`) as its parts. */
function portOf(port: string): { hostIp: string | undefined; target: string } {
  const parts = port.replace(/\/(tcp|udp)$/, '').split(':');
  const target = parts.pop() as string;
  parts.pop();
  return { hostIp: parts.length > 0 ? parts.join(':') : undefined, target };
}

/** A compose duration (`15s`, `1m30s`, `500ms`) as milliseconds. */
function durationMs(value: string): number {
  let total = 0;
  for (const [, amount, unit] of String(value).matchAll(/(\d+(?:\.\d+)?)(ms|us|h|m|s)/g)) {
    const factor = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001 }[unit as 'h'];
    total += Number(amount) * factor;
  }
  return total;
}

const dockerfile = DockerfileParser.parse(readFileSync(path.join(root, 'Dockerfile'), 'utf8'));
const instructions = dockerfile.getInstructions();
const argsOf = (keyword: string) =>
  instructions
    .filter((instruction) => instruction.getKeyword() === keyword)
    .map((instruction) => instruction.getArgumentsContent() ?? '');
/** Every `ENV` of the Dockerfile as a map; the last value wins. */
const dockerfileEnv: Record<string, string> = Object.fromEntries(
  dockerfile
    .getENVs()
    .flatMap((env) => env.getProperties())
    .map((property) => [property.getName(), property.getValue() ?? '']),
);

describe.runIf(composeRuns)(
  `docker-compose.yml${composeRuns ? '' : ` (skipped: ${DOCKER_COMPOSE} is not installed)`}`,
  () => {
    // Normalized by docker-compose: environment as a map of strings, ports as strings, build
    // as { context, dockerfile }; the seed and scale profiles enabled so their services are
    // listed.
    let compose: any;
    const service = (name: string): any => compose.services[name];
    beforeAll(() => {
      compose = composeConfig(['seed', 'scale']);
    });
    it('is accepted by `docker-compose config`, with and without the profiles', () => {
      // docker-compose 1.29 lists a profile's services either way; both forms must be valid.
      expect(Object.keys(composeConfig().services)).toEqual(
        expect.arrayContaining(['gateway', 'pgbouncer', 'postgres', 'replica']),
      );
      expect(Object.keys(compose.services).sort()).toEqual([
        'gateway',
        'gateway-2',
        'gateway-3',
        'pgbouncer',
        'postgres',
        'replica',
        'seed',
      ]);
    });

    it('gives postgres a pg_isready healthcheck, a named data volume and a loopback-only port', () => {
      const postgres = service('postgres');
      expect(postgres.image).toMatch(/^postgres:\d+/);
      const env = postgres.environment;
      // pg_isready checks the same user and database the gateway connects with.
      expect(postgres.healthcheck.test).toEqual([
        'CMD',
        'pg_isready',
        '-U',
        env.POSTGRES_USER,
        '-d',
        env.POSTGRES_DB,
      ]);
      expect(env.POSTGRES_USER).toMatch(/^\w+$/);
      expect(env.POSTGRES_PASSWORD).toMatch(/^\S+$/);
      expect(env.POSTGRES_DB).toMatch(/^\w+$/);
      expect(postgres.volumes).toEqual([
        'pgdata:/var/lib/postgresql/data:rw',
        `${path.join(root, 'docker/postgres-replication.sh')}:/docker-entrypoint-initdb.d/replication.sh:ro`,
      ]);
      expect(existsSync(path.join(root, 'docker/postgres-replication.sh'))).toBe(true);
      expect(Object.keys(compose.volumes).sort(), 'named volumes, declared at top level').toEqual([
        'pgdata',
        'replicadata',
      ]);
      expect(postgres.ports.map(portOf)).toEqual([{ hostIp: '127.0.0.1', target: '5432' }]);
    });

    it('streams a replica of postgres (pg_basebackup -R) into its own volume, on loopback', () => {
      const replica = service('replica');
      expect(replica.image).toBe(service('postgres').image);
      expect(replica.depends_on).toEqual({ postgres: { condition: 'service_healthy' } });
      expect(replica.command.join(' ')).toMatch(/pg_basebackup -h postgres .*-R/);
      expect(replica.volumes).toEqual(['replicadata:/var/lib/postgresql/data:rw']);
      expect(replica.ports.map(portOf)).toEqual([{ hostIp: '127.0.0.1', target: '5432' }]);
    });

    it('builds the gateways and the seed from the Dockerfile in the repository, one image', () => {
      const build = { context: path.resolve(root), dockerfile: 'Dockerfile' };
      expect({
        ...service('gateway').build,
        context: path.resolve(service('gateway').build.context),
      }).toEqual(build);
      for (const name of ['seed', 'gateway-2', 'gateway-3']) {
        expect(service(name).build).toEqual(service('gateway').build);
        expect(service(name).image).toBe(service('gateway').image);
      }
    });

    it('starts the gateway once postgres is healthy and PgBouncer has started', () => {
      expect(service('gateway').depends_on).toEqual({
        pgbouncer: { condition: 'service_started' },
        postgres: { condition: 'service_healthy' },
      });
    });

    /** Checks that `value` is a postgres:// URL of `host`:`port` with postgres's credentials. */
    function expectDatabaseUrl(value: string | undefined, host: string, port: string) {
      const env = service('postgres').environment;
      const url = new URL(value as string);
      expect(url.protocol).toMatch(/^postgres(ql)?:$/);
      expect(url.hostname).toBe(host);
      expect(url.port || '5432').toBe(port);
      expect(decodeURIComponent(url.username)).toBe(env.POSTGRES_USER);
      expect(decodeURIComponent(url.password)).toBe(env.POSTGRES_PASSWORD);
      expect(decodeURIComponent(url.pathname.slice(1))).toBe(env.POSTGRES_DB);
    }

    it('pools through PgBouncer (transaction mode), LISTENs on postgres, reads from the replica', () => {
      const pgbouncer = service('pgbouncer');
      expect(pgbouncer.image).toMatch(/^edoburu\/pgbouncer:v\d+\.\d+\.\d+/);
      expect(pgbouncer.environment.POOL_MODE).toBe('transaction');
      expectDatabaseUrl(pgbouncer.environment.DATABASE_URL, 'postgres', '5432');
      expect(pgbouncer.depends_on).toEqual({ postgres: { condition: 'service_healthy' } });
      const env = service('gateway').environment;
      expectDatabaseUrl(env.DATABASE_URL, 'pgbouncer', pgbouncer.environment.LISTEN_PORT);
      expectDatabaseUrl(env.CHIPGATE_DATABASE_DIRECT_URL, 'postgres', '5432');
      expectDatabaseUrl(env.CHIPGATE_READ_REPLICA_URLS, 'replica', '5432');
    });

    it('has two more gateway instances behind a profile, the same but for their loopback port', () => {
      const gateway = service('gateway');
      const published = new Set(gateway.ports);
      for (const name of ['gateway-2', 'gateway-3']) {
        const instance = service(name);
        expect(instance.profiles, `${name}: not started by a plain \`up\``).toEqual(['scale']);
        expect(instance.environment).toEqual(gateway.environment);
        expect(instance.depends_on).toEqual(gateway.depends_on);
        expect(instance.ports.map(portOf)).toEqual([
          { hostIp: '127.0.0.1', target: gateway.environment.CHIPGATE_PORT },
        ]);
        expect(published.has(instance.ports[0])).toBe(false);
        published.add(instance.ports[0]);
      }
    });

    it('listens on every interface and publishes CHIPGATE_PORT on loopback', () => {
      const gateway = service('gateway');
      expect(gateway.environment.CHIPGATE_HOST).toBe('0.0.0.0');
      expect(gateway.ports.map(portOf)).toEqual([
        { hostIp: '127.0.0.1', target: gateway.environment.CHIPGATE_PORT },
      ]);
    });

    it('sets only variables src/env.ts knows, with values it accepts', () => {
      for (const name of ['gateway', 'gateway-2', 'gateway-3', 'seed']) {
        const environment: Record<string, string> = service(name).environment;
        expect(Object.keys(environment)).toContain('DATABASE_URL');
        const unknown = Object.keys(environment).filter((key) => !knownVariables.includes(key));
        expect(unknown, `unknown variables in service ${name}`).toEqual([]);
        const env = loadEnv(environment);
        expect(env.DATABASE_URL).toBe(environment.DATABASE_URL);
      }
      const gatewayEnv = service('gateway').environment;
      const env = loadEnv(gatewayEnv);
      expect(env.CHIPGATE_HOST).toBe('0.0.0.0');
      expect(String(env.CHIPGATE_PORT)).toBe(gatewayEnv.CHIPGATE_PORT);
      expect(service('seed').environment.DATABASE_URL).toBe(gatewayEnv.DATABASE_URL);
    });

    it('health-checks the gateway on /ready and gives it time to drain on stop', () => {
      const gateway = service('gateway');
      expect(gateway.healthcheck.test.join(' ')).toContain('/ready');
      expect(gateway.restart).toBe('unless-stopped');
      const { CHIPGATE_SHUTDOWN_TIMEOUT_MS } = loadEnv(gateway.environment);
      expect(durationMs(gateway.stop_grace_period ?? '10s')).toBeGreaterThan(
        CHIPGATE_SHUTDOWN_TIMEOUT_MS,
      );
    });

    it('has a one-shot seed service behind a profile, after postgres is healthy', () => {
      const seed = service('seed');
      expect(seed.profiles).toEqual(['seed']);
      expect(seed.command).toEqual(['npm', 'run', 'db:seed']);
      const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
      expect(pkg.scripts['db:seed']).toBe('tsx src/cli.ts seed');
      expect(seed.depends_on.postgres).toEqual({ condition: 'service_healthy' });
      expect(String(seed.restart)).toBe('no');
    });
  },
);

describe('Dockerfile', () => {
  const stages = dockerfile.getFROMs();
  /** The instructions of each stage (`FROM` to the next `FROM`), in order. */
  const stageInstructions: Instruction[][] = stages.map((from, index) => {
    const next = stages[index + 1];
    return instructions.filter(
      (instruction) =>
        instruction.getRange().start.line > from.getRange().start.line &&
        (!next || instruction.getRange().start.line < next.getRange().start.line),
    );
  });
  const isNpmCi = (instruction: Instruction) =>
    instruction.getKeyword() === 'RUN' && /^npm ci\b/.test(instruction.getArgumentsContent() ?? '');

  it('has two stages, both from the same Node LTS slim image, each installing from the lockfile', () => {
    expect(stages.map((from) => from.getImageName())).toEqual(['node', 'node']);
    expect(stages[0]?.getImageTag()).toMatch(/^(20|22|24)(\.[\d.]+)?-\w+-slim$/);
    expect(stages[1]?.getImageTag()).toBe(stages[0]?.getImageTag());
    expect(stages.map((from) => from.getBuildStage())).toEqual(['build', null]);
    expect(stageInstructions.map((stage) => stage.filter(isNpmCi).length)).toEqual([1, 1]);
  });

  it('copies package-lock.json and patches/ into every stage before its npm ci, which applies them', () => {
    // Without the directory patch-package finds nothing to apply and still exits 0, so an
    // image would ship the unpatched library (postgres.js crashing on a dropped connection).
    const patches = readdirSync(path.join(root, 'patches')).filter((f) => f.endsWith('.patch'));
    expect(patches).toContain('postgres+3.4.9.patch');
    const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
    expect(pkg.scripts.postinstall).toMatch(/^patch-package\b.*--error-on-fail/);
    // A runtime dependency: `npm ci --omit=dev` runs the postinstall too.
    expect(Object.keys(pkg.dependencies)).toContain('patch-package');
    for (const [index, stage] of stageInstructions.entries()) {
      const copied = (name: string) =>
        stage.findIndex(
          (i) =>
            i.getKeyword() === 'COPY' &&
            i.getArguments().some((argument) => argument.getValue() === name),
        );
      const install = stage.findIndex(isNpmCi);
      expect(install, `stage ${index} runs npm ci`).toBeGreaterThan(0);
      expect(copied('patches'), `stage ${index}: COPY patches`).toBeGreaterThanOrEqual(0);
      expect(copied('patches'), `stage ${index}: COPY patches before npm ci`).toBeLessThan(install);
      expect(copied('package-lock.json')).toBeGreaterThanOrEqual(0);
      expect(copied('package-lock.json')).toBeLessThan(install);
    }
  });

  it('EXPOSEs the port the compose file publishes and listens on it on every interface', () => {
    const exposed = dockerfile
      .getInstructions()
      .flatMap((instruction) =>
        instruction.getKeyword() === 'EXPOSE'
          ? instruction.getArguments().map((argument) => argument.getValue().split('/')[0])
          : [],
      );
    expect(exposed).toEqual([dockerfileEnv.CHIPGATE_PORT]);
    expect(dockerfileEnv.CHIPGATE_PORT).toBe('4000');
    expect(dockerfileEnv.CHIPGATE_HOST).toBe('0.0.0.0');
    // Reachable from other machines: the schema for API keys only, whatever the host.
    expect(dockerfileEnv.CHIPGATE_INTROSPECTION).toBe('keys');
    const unknown = Object.keys(dockerfileEnv).filter(
      (key) => /^(CHIPGATE_|DATABASE_URL$)/.test(key) && !knownVariables.includes(key),
    );
    expect(unknown).toEqual([]);
    const env = loadEnv(dockerfileEnv);
    expect(env.CHIPGATE_PORT).toBe(4000);
    expect(env.NODE_ENV).toBe('production');
  });

  it('has a HEALTHCHECK against /ready', () => {
    const healthchecks = dockerfile.getHEALTHCHECKs();
    expect(healthchecks).toHaveLength(1);
    const flags = healthchecks[0]?.getFlags().map((flag) => flag.getName());
    expect(flags).toEqual(['interval', 'timeout', 'start-period', 'retries']);
    expect(healthchecks[0]?.getArgumentsContent()).toMatch(/^CMD \[/);
    expect(healthchecks[0]?.getArgumentsContent()).toContain('/ready');
  });

  it('runs as a non-root USER, with node as the process that gets SIGTERM', () => {
    expect(argsOf('USER')).toEqual(['node']);
    expect(argsOf('STOPSIGNAL')).toEqual(['SIGTERM']);
    const cmds = argsOf('CMD');
    expect(cmds).toHaveLength(1);
    // Exec form (JSON), no shell in between; the compiled code, no TypeScript loader.
    expect(JSON.parse(cmds[0] as string)).toEqual(['node', 'dist/server.js']);
    expect(stageInstructions[0]?.map((i) => i.getArgumentsContent())).toContain('npm run build');
    const fromBuild = dockerfile
      .getCOPYs()
      .filter((copy) => copy.getFromFlag()?.getValue() === 'build')
      .map((copy) => copy.getArguments().map((argument) => argument.getValue()));
    expect(fromBuild).toEqual([['/app/dist', './dist']]);
    // The USER comes before CMD, so the gateway does not run as root.
    const order = instructions.map((i) => i.getKeyword());
    expect(order.indexOf('USER')).toBeLessThan(order.indexOf('CMD'));
  });

  it('copies the sources, the drizzle/ migrations and the schema, none of them ignored', () => {
    // From the build context (a `COPY --from=<stage>` copies from an earlier stage instead).
    const sources = dockerfile
      .getCOPYs()
      .filter((copy) => !copy.getFromFlag())
      .flatMap((copy) =>
        copy
          .getArguments()
          .slice(0, -1)
          .map((argument) => argument.getValue()),
      );
    expect(sources).toEqual(expect.arrayContaining(['src', 'drizzle', 'schema', 'package.json']));
    const ignored = readFileSync(path.join(root, '.dockerignore'), 'utf8')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith('#'))
      .map((line) => line.replace(/^\/+|\/+$/g, ''));
    expect(ignored).toContain('node_modules');
    expect(sources.filter((source) => !existsSync(path.join(root, source)))).toEqual([]);
    expect(sources.filter((source) => ignored.includes(source))).toEqual([]);
  });
});
