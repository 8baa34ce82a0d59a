/**
 * The benchmark's own correctness (never its speed): the raw-SQL floor answers every benchmark
 * request exactly as the gateway does, and the helpers that turn readings into figures
 * (server CPU from /proc, percentiles, the response check, settings, targets) compute the
 * right values.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBenchConfig } from '../bench/config.js';
import { answerOnFloor, type FloorClient, FloorRequestError } from '../bench/floor.js';
import { HOT_WORKLOAD } from '../bench/hot-workload.js';
import { percentile } from '../bench/load.js';
import { judgeTargets } from '../bench/results.js';
import { CpuLedger, clockTicksPerSecond, parseProcStat } from '../bench/server-cpu.js';
import { isDataWithoutErrors, REFERENCE_WORKLOAD } from '../bench/workload.js';
import { createTestGateway, type TestGateway } from './helpers/gateway.js';

let gateway: TestGateway;
let floor: FloorClient;
beforeAll(async () => {
  gateway = await createTestGateway();
  const { pglite, sql } = gateway.database;
  if (pglite) floor = { pglite };
  else if (sql) floor = { sql };
  else throw new Error('test database has neither PGlite nor postgres.js');
});
afterAll(async () => {
  await gateway?.close();
});

describe('the floor', () => {
  const requests = [REFERENCE_WORKLOAD, HOT_WORKLOAD].flatMap((workload) =>
    [...workload.variableSets, ...(workload.name === 'reference' ? [{ first: 3 }] : [])].map(
      (variables) => ({ workload, variables }),
    ),
  );

  it.each(requests)(
    'answers $workload.name $variables as the gateway does',
    async ({ workload, variables }) => {
      const expected = await gateway.execute(workload.query, variables);
      expect(expected.errors).toBeUndefined();
      const answer = JSON.parse(await answerOnFloor(floor, workload.operationName, variables));
      expect(answer).toEqual({ data: expected.data });
    },
  );

  it('the seed data gives the hot variable sets something to return', async () => {
    const totals = await Promise.all(
      HOT_WORKLOAD.variableSets.map(async (variables) => {
        const result = await gateway.execute<{ policyDecisions: { totalCount: number } }>(
          HOT_WORKLOAD.query,
          variables,
        );
        return result.data?.policyDecisions.totalCount ?? -1;
      }),
    );
    expect(totals.filter((total) => total > 0).length).toBeGreaterThanOrEqual(4);
  });

  it('refuses an unknown operation and variables the document would not accept', async () => {
    await expect(answerOnFloor(floor, 'Other', {})).rejects.toThrow(FloorRequestError);
    await expect(answerOnFloor(floor, 'Nested', { first: 101 })).rejects.toThrow(
      'variables.first must be a whole number from 0 to 100',
    );
    await expect(
      answerOnFloor(floor, 'Hot', { jurisdiction: ['usa'], status: null, first: 5 }),
    ).rejects.toThrow(FloorRequestError);
    await expect(
      answerOnFloor(floor, 'Hot', { jurisdiction: null, status: ['DONE'], first: 5 }),
    ).rejects.toThrow('variables.status must be null or a list of valid values');
  });
});

/** A `/proc/<pid>/stat` line with the given command, utime, stime and start time. */
function statLine(command: string, utime: number, stime: number, start: number): string {
  const fields = ['S', '1', '1', '1', '0', '-1', '4194560', '10', '0', '0', '0'];
  return `4242 (${command}) ${[...fields, utime, stime, 0, 0, 20, 0, 1, 0, start, 1000].join(' ')}`;
}

describe('server CPU from /proc', () => {
  it('parses utime + stime and the start time, whatever the command holds', () => {
    expect(parseProcStat(statLine('postgres', 120, 30, 9000))).toEqual({
      command: 'postgres',
      cpuTicks: 150,
      startTicks: 9000,
    });
    expect(parseProcStat(statLine('a) (b', 1, 2, 3))).toEqual({
      command: 'a) (b',
      cpuTicks: 3,
      startTicks: 3,
    });
    expect(parseProcStat('not a stat line')).toBeUndefined();
    expect(parseProcStat('1 (x) S 1 2')).toBeUndefined();
  });

  it('reads this process from /proc: its CPU as the kernel reports it to process.cpuUsage()', () => {
    // Spend CPU first, so the reading is well above zero and above a tick or two of rounding.
    const spin = process.cpuUsage();
    while (process.cpuUsage(spin).user < 100_000);
    const perSecond = clockTicksPerSecond();
    const before = process.cpuUsage();
    const own = parseProcStat(readFileSync('/proc/self/stat', 'utf8'));
    const after = process.cpuUsage();
    const ticks = (usage: NodeJS.CpuUsage) => ((usage.user + usage.system) / 1e6) * perSecond;
    expect(own?.command).toBe(readFileSync('/proc/self/comm', 'utf8').trim().slice(0, 15));
    // Both read the same kernel counters; /proc rounds down to whole ticks.
    expect(own?.cpuTicks).toBeGreaterThanOrEqual(Math.floor(ticks(before)) - 2);
    expect(own?.cpuTicks).toBeLessThanOrEqual(Math.ceil(ticks(after)) + 2);
    expect(own?.cpuTicks).toBeGreaterThanOrEqual(0.1 * perSecond);
    // Started when this process did: boot uptime minus the process's own uptime, within 2 s.
    const uptime = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
    const started = (uptime - process.uptime()) * perSecond;
    expect(Math.abs((own?.startTicks ?? 0) - started)).toBeLessThan(2 * perSecond);
  });

  it('counts each backend from the window start, a new one from zero, a gone one to its last reading', () => {
    const ledger = new CpuLedger(1000);
    const reading = (cpuTicks: number, startTicks: number) => ({
      command: 'postgres',
      cpuTicks,
      startTicks,
    });
    // At the window start: two backends older than the window.
    ledger.observe(1, reading(500, 100));
    ledger.observe(2, reading(70, 900));
    // Mid-window: backend 2 exits after this reading; backend 3 starts inside the window.
    ledger.observe(1, reading(520, 100));
    ledger.observe(2, reading(90, 900));
    ledger.observe(3, reading(15, 1200));
    // At the end: pid 2 is reused by a new process.
    ledger.observe(1, reading(560, 100));
    ledger.observe(3, reading(40, 1200));
    ledger.observe(2, reading(5, 1500));
    expect(ledger.totalTicks).toBe(60 + 20 + 40 + 5);
    expect(ledger.count).toBe(4);
  });
});

describe('figures', () => {
  it('percentiles by nearest rank', () => {
    const values = Array.from({ length: 200 }, (_, i) => i + 1);
    expect(percentile(values, 50)).toBe(100);
    expect(percentile(values, 99)).toBe(198);
    expect(percentile(values, 100)).toBe(200);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
  });

  it('a response counts only with a data object and no errors', () => {
    expect(isDataWithoutErrors('{"data":{"companies":{"edges":[]}}}')).toBe(true);
    // The floor's JSON as PostgreSQL prints it.
    expect(isDataWithoutErrors('{"data" : {"companies" : {"edges" : []}}}')).toBe(true);
    expect(isDataWithoutErrors('{"errors":[{"message":"x"}],"data":{"companies":null}}')).toBe(
      false,
    );
    expect(isDataWithoutErrors('{"data":{"a":1},"errors":[{"message":"x"}]}')).toBe(false);
    expect(isDataWithoutErrors('{"data":null,"errors":[]}')).toBe(false);
    expect(isDataWithoutErrors('')).toBe(false);
  });

  it('judges the planned path against the old one', () => {
    const old = {
      nodeCpuMsPerRequest: 30,
      serverCpuMsPerRequest: 15,
      requestsPerSecond: 30,
      peakRssBytes: 300 * 1024 * 1024,
    };
    const verdicts = judgeTargets(old, {
      nodeCpuMsPerRequest: 5,
      serverCpuMsPerRequest: 9.5,
      requestsPerSecond: 75,
      peakRssBytes: 300 * 1024 * 1024,
    });
    expect(verdicts.map((v) => [v.name, v.ratio, v.pass])).toEqual([
      ['Node CPU per request', 5 / 30, true],
      ['PostgreSQL CPU per request', 9.5 / 15, false],
      ['throughput', 2.5, true],
      ['peak RSS', 1, true],
    ]);
    const withoutServerCpu = judgeTargets(old, { ...old, serverCpuMsPerRequest: undefined });
    expect(withoutServerCpu[1]?.pass).toBeUndefined();
    expect(withoutServerCpu[3]?.pass).toBe(true);
  });

  it('reads the paths, runs and rate to measure, and names every bad setting', () => {
    const config = loadBenchConfig({
      BENCH_PATHS: 'planned, old',
      BENCH_RUNS: 'rate,hot',
      BENCH_RATE: '15',
    });
    expect(config.paths).toEqual(['old', 'planned']);
    expect(config.runs).toEqual(['hot', 'rate']);
    expect(config.rate).toBe(15);
    const defaults = loadBenchConfig({});
    expect(defaults.paths).toEqual(['floor', 'old', 'planned']);
    expect(defaults.runs).toEqual(['reference', 'hot', 'rate']);
    expect(defaults.rate).toBe(20);
    expect(() => loadBenchConfig({ BENCH_PATHS: 'floor,new', BENCH_RATE: '0' })).toThrow(
      /BENCH_RATE="0".*\n.*BENCH_PATHS: unknown value "new"/s,
    );
  });
});
