import type { Logger, RetryPolicy, TypedEmitter } from '@onceflow/core';
import type { RelayEvents } from './events.ts';
import type { LeaseTable } from './leases.ts';
import type { OutboxStore } from './outbox-store.ts';
import type { PublishOutcome } from './publish-rows.ts';
import type { OutboxRow } from './sql/claim-batch.ts';
import type { Fence } from './sql/fence.ts';
import type { FailedAttempt } from './sql/mark-failed.ts';

/** Mutable counters shared by a relay's lanes. */
export interface Counters {
  published: number;
  batches: number;
  retried: number;
  dead: number;
  brokerFailures: number;
}

/** A batch a lane sent: what became of its rows, and the fence its marks are written under. */
export interface SentBatch {
  /** The rows sent, in seq order. */
  readonly rows: readonly OutboxRow[];
  readonly outcome: PublishOutcome;
  /** The leases of the shards the batch has rows in, as they were when it was sent. */
  readonly fence: Fence;
  /** When the batch was claimed, on the lane's monotonic clock. */
  readonly startedAt: number;
}

/** What {@link recordOutcome} writes through and reports to. */
export interface RecordContext {
  readonly lane: number;
  readonly store: OutboxStore;
  readonly leases: LeaseTable;
  readonly counters: Counters;
  readonly events: TypedEmitter<RelayEvents>;
  readonly logger: Logger;
  /** Decides whether a failed row is dead and how long a retried one waits. */
  readonly record: RetryPolicy;
  /** The monotonic clock `startedAt` was read from. */
  now(): number;
  /** A fenced write was refused for `shard`: its lease with `token` is gone. */
  leaseLost(shard: number, token: string): void;
}

/**
 * Marks what was published and charges each failed row an attempt, both fenced; rows neither
 * published nor failed stay pending. Rows of a shard whose fence failed count nowhere: the
 * shard's new holder publishes them again.
 */
export async function recordOutcome(ctx: RecordContext, batch: SentBatch): Promise<void> {
  const { outcome } = batch;
  if (outcome.published.length > 0) {
    const held = await ctx.store.markPublished(
      batch.fence,
      outcome.published.map((r) => r.id),
    );
    reportPublished(ctx, batch, held, checkFence(ctx, batch.fence, held, outcome.published));
  }
  if (outcome.failed.length > 0) await recordFailures(ctx, batch);
}

function reportPublished(ctx: RecordContext, batch: SentBatch, held: readonly number[], marked: readonly OutboxRow[]): void {
  const { counters, events } = ctx;
  const count = marked.length;
  if (count === 0) return;
  const durationMs = Math.round(ctx.now() - batch.startedAt);
  counters.published += count;
  counters.batches++;
  // Per-row figures for the hooks (metrics), built only when something listens.
  if (events.listens('relay:batch:published')) {
    const ackedAt = Date.now();
    const topics: Record<string, number> = {};
    const sinceEnqueueMs: number[] = [];
    for (const row of marked) {
      topics[row.topic] = (topics[row.topic] ?? 0) + 1;
      sinceEnqueueMs.push(ackedAt - Date.parse(row.created_at));
    }
    events.emit('relay:batch:published', { shards: [...held], count, durationMs, topics, sinceEnqueueMs });
  }
  ctx.logger.debug({ lane: ctx.lane, count, durationMs }, 'Batch published');
}

async function recordFailures(ctx: RecordContext, batch: SentBatch): Promise<void> {
  const { counters, events, logger } = ctx;
  const { failed } = batch.outcome;
  const at = new Date();
  const attempts: FailedAttempt[] = failed.map(({ row, error }) => {
    const attempt = row.attempts + 1;
    const decision = ctx.record.decide(error, attempt);
    return { id: row.id, entry: errorEntry(at, attempt, error), delayMs: decision.retry ? decision.delayMs : 0, dead: !decision.retry };
  });
  const held = new Set(
    await ctx.leases.recordingFailures(
      failed.map((f) => f.row.shard),
      () => ctx.store.markFailed(batch.fence, attempts),
    ),
  );
  checkFence(
    ctx,
    batch.fence,
    [...held],
    failed.map((f) => f.row),
  );
  failed.forEach(({ row, error }, i) => {
    if (!held.has(row.shard)) return;
    const a = attempts[i] as FailedAttempt;
    const attempt = row.attempts + 1;
    const fields = { id: row.id, topic: row.topic, key: row.key, attempt, error };
    if (a.dead) {
      counters.dead++;
      events.emit('relay:dead', { id: row.id, topic: row.topic, key: row.key, attempts: attempt, error });
      logger.error(fields, 'Message is dead: parked with its error history (list and requeue it)');
    } else {
      counters.retried++;
      const nextAttemptAt = new Date(at.getTime() + a.delayMs);
      events.emit('relay:retry', { scope: 'record', id: row.id, topic: row.topic, key: row.key, attempt, nextAttemptAt, error });
      logger.warn({ ...fields, nextAttemptAt }, 'Publishing a message failed; retrying later, its key waits');
    }
  });
}

/** Reports shards whose fence failed as lost; answers those of `rows` that are in held shards. */
function checkFence(ctx: RecordContext, fence: Fence, held: readonly number[], rows: readonly OutboxRow[]): readonly OutboxRow[] {
  const heldSet = new Set(held);
  fence.shards.forEach((shard, i) => {
    if (!heldSet.has(shard)) ctx.leaseLost(shard, fence.tokens[i] as string);
  });
  return heldSet.size === fence.shards.length ? rows : rows.filter((r) => heldSet.has(r.shard));
}

/** One entry of a row's `errors` history. */
function errorEntry(at: Date, attempt: number, error: unknown): Record<string, unknown> {
  const message = error instanceof Error ? error.message : String(error);
  const code = error !== null && typeof error === 'object' ? (error as { code?: unknown }).code : undefined;
  const entry: Record<string, unknown> = { at: at.toISOString(), attempt, error: message.slice(0, 2_000) };
  if (typeof code === 'string') entry.code = code;
  return entry;
}
