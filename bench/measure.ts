/**
 * Measuring a running target (`target-process.ts`) under a workload, shared by the benchmarks
 * that fork targets (`run.ts`, `ops.ts`): every request checked once, then a closed-loop window
 * in which the target counts its own CPU and the server backends' CPU is read alongside.
 */
import { requestOnce, runLoad } from './load.js';
import type { ClosedRun, WorkloadAnswers } from './results.js';
import type { ServerCpuMeter } from './server-cpu.js';
import type { TargetProcess } from './target-process.js';
import { countRecords, requestBodies, type Workload } from './workload.js';

/** Sends every variable set of `workload` once; each must be a 200 with data and no errors. */
export async function answersOf(
  url: string,
  label: string,
  workload: Workload,
): Promise<WorkloadAnswers> {
  const bodies: string[] = [];
  let records = 0;
  let bytes = 0;
  for (const body of requestBodies(workload)) {
    const response = await requestOnce(url, body);
    let parsed: { data?: unknown; errors?: unknown } | undefined;
    try {
      parsed = JSON.parse(response.body) as { data?: unknown; errors?: unknown };
    } catch {
      // Reported below.
    }
    if (response.status !== 200 || !parsed?.data || parsed.errors) {
      throw new Error(
        `${label} answered ${workload.name} with ${response.status}: ${response.body.slice(0, 500)}`,
      );
    }
    bodies.push(response.body);
    records += countRecords(parsed);
    bytes += Buffer.byteLength(response.body);
  }
  return { bodies, records: records / bodies.length, bytes: bytes / bodies.length };
}

/** How a closed-loop run is driven. */
export interface ClosedRunOptions {
  warmupSeconds: number;
  durationSeconds: number;
  connections: number;
  /** Measures the server backends' CPU (PostgreSQL only). */
  serverCpu?: ServerCpuMeter | undefined;
  /** Told what is happening, for progress lines. */
  progress: (line: string) => void;
}

/**
 * Warm-up, then one measured closed-loop window of `workload` on a running target. The caller
 * checks `load` for bad responses.
 */
export async function closedRun(
  target: TargetProcess,
  label: string,
  workload: Workload,
  options: ClosedRunOptions,
): Promise<ClosedRun> {
  const { serverCpu, progress } = options;
  const bodies = requestBodies(workload);
  if (options.warmupSeconds > 0) {
    progress(`${label} ${workload.name}: warming up ${options.warmupSeconds} s`);
    await runLoad(target.url, options.warmupSeconds, options.connections, bodies);
  }
  progress(`${label} ${workload.name}: measuring ${options.durationSeconds} s`);
  // The target opens and closes its window once no request is in flight, and the server CPU
  // window lies just inside it, so both hold the work of exactly the requests counted.
  await target.startMeasuring();
  await serverCpu?.start();
  const load = await runLoad(target.url, options.durationSeconds, options.connections, bodies);
  const measurement = await target.stopMeasuring();
  const server = await serverCpu?.stop();
  const requests = Math.max(measurement.requests, 1);
  return {
    load,
    measurement,
    nodeCpuMsPerRequest:
      (measurement.cpuUserMicros + measurement.cpuSystemMicros) / 1000 / requests,
    ...(server ? { serverCpu: server } : {}),
    ...(server?.available ? { serverCpuMsPerRequest: server.ms / requests } : {}),
    statementsPerRequest: measurement.statements / requests,
  };
}
