import { startPublishSpan } from '@onceflow/core';
import type { LaneClock, LaneOptions } from './lane.ts';
import type { HeldLease, LeaseTable } from './leases.ts';
import type { OutboxStore } from './outbox-store.ts';
import type { PendingMarks } from './pending-marks.ts';
import { publishRows } from './publish-rows.ts';
import type { SentBatch } from './record-outcome.ts';
import type { Fence } from './sql/fence.ts';
import type { TopicLimits } from './topic-limits.ts';

/** What {@link claimAndSend} reads through. */
export interface SendContext {
  readonly options: LaneOptions;
  readonly store: OutboxStore;
  readonly leases: LeaseTable;
  readonly clock: LaneClock;
  readonly topicLimits: TopicLimits;
}

/** A batch {@link claimAndSend} sent. */
export interface SentTurn {
  readonly batch: SentBatch;
  /** The claim came back full: there is more to read at once. */
  readonly full: boolean;
  /** The shards the batch was claimed from. */
  readonly shards: readonly number[];
}

/**
 * Claims and sends one batch of the `requested` leases' shards; undefined when there was
 * nothing to send. The claim skips the rows whose marks are still being written (`pending`).
 * Leases are judged by the local clock before reading and again before sending: a relay that
 * was paused past its lease must not publish what another relay may own by now.
 */
export async function claimAndSend(
  ctx: SendContext,
  requested: readonly HeldLease[],
  pending: PendingMarks,
): Promise<SentTurn | undefined> {
  const { options, leases, store, clock, topicLimits } = ctx;
  const valid = () => {
    const now = clock.now();
    return requested.filter((l) => leases.isValid(l.shard, l.token, now));
  };
  const before = valid();
  if (before.length === 0) return undefined;
  const shards = before.map((l) => l.shard);
  const claimed = await store.claimBatch(shards, options.batchSize, pending.sending(shards), leases.mayHoldKeys(shards));
  if (claimed.length === 0) return undefined;
  const still = valid();
  const stillShards = new Set(still.map((l) => l.shard));
  // Rows of a shard whose lease lapsed meanwhile are left pending, whole shard at a time,
  // so no key loses its order.
  const rows = stillShards.size === before.length ? claimed : claimed.filter((r) => stillShards.has(r.shard));
  if (rows.length === 0) return undefined;

  const startedAt = clock.now();
  const maxRecordBytes = await topicLimits.of(rows.map((r) => r.topic));
  const maxBatchBytes = Math.min(options.maxBatchBytes, ...maxRecordBytes.values());
  const span = startPublishSpan(
    [...new Set(rows.map((r) => r.topic))],
    rows.map((r) => r.headers),
  );
  const outcome = await publishRows(options.publisher, rows, { maxBatchBytes, maxRecordBytes }).catch((error: unknown) => {
    span.end(error);
    throw error;
  });
  span.end(outcome.brokerError ?? outcome.failed[0]?.error);
  // The fence covers the shards this batch has rows in, not every shard of the lane: each
  // fenced shard is a row lock in the marking statement, and a small batch touches few.
  const batchShards = new Set(rows.map((r) => r.shard));
  const fenced = still.filter((l) => batchShards.has(l.shard));
  const fence: Fence = { relayId: options.relayId, shards: fenced.map((l) => l.shard), tokens: fenced.map((l) => l.token) };
  return { batch: { rows, outcome, fence, startedAt }, full: claimed.length >= options.batchSize, shards };
}
