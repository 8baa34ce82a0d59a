/**
 * The read replicas' series (see src/db/replicas.ts): lag and rotation per replica, read at each
 * scrape from `ReadReplicas.status`; reads routed per server and why; the consistency-token wait;
 * statements per replica.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { ReplicaObserver, ReplicaStatus } from './db/replicas.js';

/** The replica series registered in `registers`. */
export interface ReplicaMetrics {
  /** For `ReadReplicas.open`: reads routed per server, the token wait, statements per replica. */
  observer: ReplicaObserver;
  /** Reports each read replica's lag and rotation (`ReadReplicas.status`) at each scrape. */
  watch(status: () => ReplicaStatus[]): void;
}

/** Registers the replica series (all absent until replicas are watched or used). */
export function createReplicaMetrics(registers: Registry[]): ReplicaMetrics {
  let replicaStatus: (() => ReplicaStatus[]) | undefined;
  new Gauge({
    name: 'chipgate_replica_lag_seconds',
    help: 'How long ago the primary first stood at a WAL position this read replica has not replayed (0: caught up), at the last check; absent while unreachable.',
    labelNames: ['replica'],
    registers,
    collect() {
      this.reset();
      for (const replica of replicaStatus?.() ?? []) {
        if (replica.lagMs !== undefined) this.set({ replica: replica.name }, replica.lagMs / 1000);
      }
    },
  });
  new Gauge({
    name: 'chipgate_replica_in_rotation',
    help: 'Whether reads go to this read replica (1) or not (0: lagging past CHIPGATE_REPLICA_MAX_LAG_MS, or unreachable).',
    labelNames: ['replica'],
    registers,
    collect() {
      this.reset();
      for (const replica of replicaStatus?.() ?? []) {
        this.set({ replica: replica.name }, replica.inRotation ? 1 : 0);
      }
    },
  });
  const routedReads = new Counter({
    name: 'chipgate_read_routes_total',
    help: 'Reads (queries, subscription events) by the server they were sent to (primary or a replica) and why (replica, no-replica, waited-out, token-ahead).',
    labelNames: ['target', 'reason'],
    registers,
  });
  const replicaWait = new Histogram({
    name: 'chipgate_replica_wait_seconds',
    help: 'How long reads carrying a consistency token waited for a replica to replay it.',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers,
  });
  const replicaStatements = new Counter({
    name: 'chipgate_replica_statements_total',
    help: 'SQL statements sent to each read replica (reads and lag checks).',
    labelNames: ['replica'],
    registers,
  });

  return {
    observer: {
      routed(target, reason, waitedMs) {
        routedReads.inc({ target, reason });
        if (waitedMs > 0) replicaWait.observe(waitedMs / 1000);
      },
      statement: (replica) => replicaStatements.inc({ replica }),
    },
    watch(status) {
      replicaStatus = status;
    },
  };
}
