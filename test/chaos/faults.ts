import type { Tables } from '@onceflow/core';
import type { Knex } from 'knex';
import type { ChaosSql } from './chaos-sql.ts';
import type { ClusterControl } from './cluster-control.ts';
import type { KafkaControl } from './kafka-control.ts';
import type { PgControl } from './pg-control.ts';
import type { Fault, FaultKind } from './schedule.ts';
import { describeFault } from './schedule.ts';
import type { Supervisor } from './supervisor.ts';
import { persistently } from './worker-io.ts';

/** A fault as it was carried out. `applied` is false when its target was not up at that moment. */
export interface AppliedFault {
  readonly kind: FaultKind;
  readonly plannedAtMs: number;
  readonly startedAtMs: number;
  readonly tookMs: number;
  readonly applied: boolean;
  readonly detail: string;
  /** Something the fault revealed beyond its purpose, e.g. a consumer that did not stop cleanly. */
  readonly problem?: string;
}

/** What the fault executor needs from the run. */
export interface FaultContext {
  readonly supervisor: Supervisor;
  /** The single broker's stop/start (single-broker profiles). */
  readonly kafka: KafkaControl | undefined;
  /** Node faults of the three-node cluster (cluster profiles). */
  readonly cluster: ClusterControl | undefined;
  /** The PostgreSQL server's stop/start (profiles with `pgRestarts`). */
  readonly pg: PgControl | undefined;
  /** The run's topics (a `kill-leader` fault names one by number). */
  readonly topics: readonly string[];
  /** The harness's pool (its sessions are named `chaos-harness`, on MySQL the URL's user, and never terminated). */
  readonly knex: Knex;
  /** The run's SQL for its server. */
  readonly sql: ChaosSql;
  /** Onceflow's tables. */
  readonly tables: Tables;
  readonly relayName: (slot: number) => string;
  readonly consumerName: (slot: number) => string;
  readonly log: (line: string) => void;
  readonly signal: AbortSignal;
}

/**
 * Carries out the schedule in order, each fault at its offset from `t0` (or as soon as the one
 * before it is done). Kills, Kafka restarts and graceful removals run to completion before the
 * next fault; pauses run in the background and are awaited at the end.
 */
export async function runSchedule(schedule: readonly Fault[], t0: number, ctx: FaultContext): Promise<AppliedFault[]> {
  const applied: AppliedFault[] = [];
  const pauses: Promise<void>[] = [];
  for (const fault of schedule) {
    const wait = t0 + fault.atMs - Date.now();
    if (wait > 0) await abortableSleep(wait, ctx.signal);
    if (ctx.signal.aborted) break;
    const startedAt = Date.now();
    const { applied: done, detail, problem } = await apply(fault, ctx, pauses);
    const record: AppliedFault = {
      ...(problem === undefined ? {} : { problem }),
      kind: fault.kind,
      plannedAtMs: fault.atMs,
      startedAtMs: startedAt - t0,
      tookMs: Date.now() - startedAt,
      applied: done,
      detail,
    };
    applied.push(record);
    ctx.log(`fault ${describeFault(fault)} at +${(record.startedAtMs / 1000).toFixed(1)}s: ${done ? detail : `skipped (${detail})`}`);
  }
  await Promise.all(pauses);
  return applied;
}

async function apply(
  fault: Fault,
  ctx: FaultContext,
  pauses: Promise<void>[],
): Promise<{ applied: boolean; detail: string; problem?: string }> {
  const { supervisor } = ctx;
  switch (fault.kind) {
    case 'kill-relay':
    case 'kill-consumer': {
      const name = fault.kind === 'kill-relay' ? ctx.relayName(fault.slot) : ctx.consumerName(fault.slot);
      await supervisor.waitUp(name, 5_000);
      if (!(await supervisor.kill(name))) return { applied: false, detail: `${name} is not running` };
      await abortableSleep(fault.restartAfterMs, ctx.signal);
      supervisor.start(name);
      return { applied: true, detail: `SIGKILL ${name}, restarted after ${fault.restartAfterMs} ms` };
    }
    case 'pause-relay':
    case 'pause-consumer': {
      const name = fault.kind === 'pause-relay' ? ctx.relayName(fault.slot) : ctx.consumerName(fault.slot);
      await supervisor.waitUp(name, 5_000);
      const paused = supervisor.pause(name, fault.pauseMs);
      if (paused === undefined) return { applied: false, detail: `${name} is not running` };
      pauses.push(paused);
      return { applied: true, detail: `SIGSTOP ${name} for ${fault.pauseMs} ms` };
    }
    case 'restart-kafka': {
      const kafka = needs(ctx.kafka, fault.kind);
      await kafka.stop();
      await abortableSleep(fault.downMs, ctx.signal);
      const startedAt = Date.now();
      await kafka.start();
      return { applied: true, detail: `broker down ${fault.downMs} ms, up again after ${Date.now() - startedAt} ms` };
    }
    case 'kill-leader': {
      const cluster = needs(ctx.cluster, fault.kind);
      const topic = ctx.topics[fault.topic] as string;
      const leader = await cluster.leaderOf(topic, fault.partition).catch(() => -1);
      if (leader < 0) return { applied: false, detail: `${topic}/${fault.partition} has no leader now` };
      await cluster.node('kill', leader);
      await abortableSleep(fault.downMs, ctx.signal);
      const startedAt = Date.now();
      await cluster.node('start', leader);
      const upMs = Date.now() - startedAt;
      const isr = await isrWhole(cluster, ctx);
      return {
        applied: true,
        detail: `SIGKILL node ${leader} (leader of ${topic}/${fault.partition}), down ${fault.downMs} ms, up after ${upMs} ms, ${isr.detail}`,
        ...isr.problem,
      };
    }
    case 'freeze-broker': {
      const cluster = needs(ctx.cluster, fault.kind);
      await cluster.node('freeze', fault.node);
      await abortableSleep(fault.freezeMs, ctx.signal);
      await cluster.node('thaw', fault.node);
      const isr = await isrWhole(cluster, ctx);
      return { applied: true, detail: `SIGSTOP node ${fault.node} for ${fault.freezeMs} ms, SIGCONT, ${isr.detail}`, ...isr.problem };
    }
    case 'rolling-restart': {
      const cluster = needs(ctx.cluster, fault.kind);
      const steps: string[] = [];
      for (const node of fault.order) {
        const startedAt = Date.now();
        await cluster.node('stop', node);
        await cluster.node('start', node);
        const isr = await isrWhole(cluster, ctx);
        if (isr.problem !== undefined) return { applied: true, detail: `${steps.join(', ')}; node ${node}: ${isr.detail}`, ...isr.problem };
        steps.push(`node ${node} ${Date.now() - startedAt} ms`);
      }
      return { applied: true, detail: `graceful restarts, each until the ISR was whole: ${steps.join(', ')}` };
    }
    case 'restart-pg': {
      const pg = needs(ctx.pg, fault.kind);
      await pg.stop();
      await abortableSleep(fault.downMs, ctx.signal);
      const startedAt = Date.now();
      await pg.start();
      return {
        applied: true,
        detail: `PostgreSQL stopped (fast), down ${fault.downMs} ms, accepting again after ${Date.now() - startedAt} ms`,
      };
    }
    case 'terminate-pg': {
      // pg_terminate_backend on PostgreSQL, KILL CONNECTION on MySQL: the server stays up.
      const n = await persistently('terminating sessions', () => ctx.sql.killSessions(ctx.knex, fault.scope));
      return { applied: true, detail: `terminated ${n} ${fault.scope} sessions` };
    }
    case 'add-consumer': {
      const name = ctx.consumerName(fault.slot);
      if (supervisor.isUp(name)) return { applied: false, detail: `${name} is running already` };
      supervisor.start(name);
      return { applied: true, detail: `started ${name}` };
    }
    case 'remove-consumer': {
      const name = ctx.consumerName(fault.slot);
      if (!(await supervisor.waitUp(name, 5_000))) return { applied: false, detail: `${name} is not running` };
      const problem = await supervisor.stop(name, 30_000);
      if (problem === undefined) return { applied: true, detail: `stopped ${name}` };
      return { applied: true, detail: `stopped ${name}, not cleanly: ${problem}`, problem: `${name} (${problem})` };
    }
    case 'duplicate-storm': {
      // What a relay that crashed between publishing and marking would do, for a scattered slice.
      const n = await persistently('re-publishing rows', () => ctx.sql.republish(ctx.knex, ctx.tables, fault.salt, fault.percent));
      return { applied: true, detail: `re-published ${n} rows (${fault.percent}%)` };
    }
  }
}

function needs<T>(control: T | undefined, kind: string): T {
  if (control === undefined) throw new Error(`a ${kind} fault, but the run has no control for it (a bug in the harness)`);
  return control;
}

/** How long a broker may take to have every replica back in sync before the run counts it as a problem. */
const ISR_TIMEOUT_MS = 180_000;

/**
 * Waits for every partition of the run's topics and of the group offsets topic to have a leader
 * and its whole ISR, so the next broker fault never finds two brokers out (which would stall,
 * not break, the run: min.insync.replicas is 2). A cluster that does not heal is a finding.
 */
async function isrWhole(cluster: ClusterControl, ctx: FaultContext): Promise<{ detail: string; problem?: { problem: string } }> {
  const startedAt = Date.now();
  try {
    await cluster.waitIsrWhole([...ctx.topics, '__consumer_offsets'], ISR_TIMEOUT_MS);
    return { detail: `ISR whole after ${Date.now() - startedAt} ms` };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { detail: message, problem: { problem: message } };
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted || ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });
}
