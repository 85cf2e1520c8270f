import type { Knex } from 'knex';
import type { KafkaControl } from './kafka-control.ts';
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
  readonly kafka: KafkaControl;
  /** The harness's pool (its sessions are named `chaos-harness` and never terminated). */
  readonly knex: Knex;
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
      await ctx.kafka.stop();
      await abortableSleep(fault.downMs, ctx.signal);
      const startedAt = Date.now();
      await ctx.kafka.start();
      return { applied: true, detail: `broker down ${fault.downMs} ms, up again after ${Date.now() - startedAt} ms` };
    }
    case 'terminate-pg': {
      const role = fault.scope === 'all' ? 'chaos-%' : `chaos-${fault.scope}-%`;
      const result = await persistently('terminating sessions', () =>
        ctx.knex.raw(
          `select count(pg_terminate_backend(pid)) as n from pg_stat_activity
         where datname = current_database() and pid <> pg_backend_pid()
           and application_name like ? and application_name <> 'chaos-harness'`,
          [role],
        ),
      );
      return { applied: true, detail: `terminated ${result.rows[0].n} ${fault.scope} sessions` };
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
      const result = await persistently('re-publishing rows', () =>
        ctx.knex.raw(
          `update onceflow.outbox set status = 'pending', published_at = null
         where status = 'published' and (seq + ?) % 100 < ?`,
          [fault.salt, fault.percent],
        ),
      );
      return { applied: true, detail: `re-published ${result.rowCount} rows (${fault.percent}%)` };
    }
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
