import type { PartitionBatch } from '@onceflow/core';
import type { CommitQueue } from './commit-queue.ts';
import type { OffsetTracker } from './offset-tracker.ts';

/**
 * Follows one batch's contiguous watermark: as it advances, the finished prefix is resolved
 * (so the next fetch starts after it) and its commit is handed to the partition's
 * {@link CommitQueue}. After {@link WatermarkCommitter.revoke} it does nothing more: the
 * partition may belong to another member now.
 */
export class WatermarkCommitter {
  readonly #batch: PartitionBatch;
  readonly #tracker: OffsetTracker;
  readonly #queue: CommitQueue;
  #revoked = false;
  #requested: string | undefined;

  constructor(batch: PartitionBatch, tracker: OffsetTracker, queue: CommitQueue) {
    this.#batch = batch;
    this.#tracker = tracker;
    this.#queue = queue;
  }

  /** Stops committing for good. */
  revoke(): void {
    this.#revoked = true;
  }

  /** Resolves the finished prefix and asks for its commit. */
  request(): void {
    const next = this.#tracker.commitOffset();
    const last = this.#tracker.lastFinished();
    if (next === undefined || last === undefined || next === this.#requested || this.#revoked || !this.#batch.isActive()) return;
    this.#batch.resolve(last);
    this.#requested = next;
    this.#queue.request(next, this.#batch);
  }
}
