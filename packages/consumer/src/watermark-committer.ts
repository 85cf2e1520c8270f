import type { PartitionBatch, TypedEmitter } from '@onceflow/core';
import type { InboxConsumerEvents, InboxConsumerStats } from './consumer-events.ts';
import type { OffsetTracker } from './offset-tracker.ts';

/**
 * Commits a partition's contiguous watermark as it advances: at most one commit in flight,
 * and requests made meanwhile fold into the next one, so commits keep pace with the work
 * without one round trip per message. After {@link WatermarkCommitter.revoke} it commits
 * nothing more: the partition may belong to another member now.
 */
export class WatermarkCommitter {
  readonly #batch: PartitionBatch;
  readonly #tracker: OffsetTracker;
  readonly #events: TypedEmitter<InboxConsumerEvents>;
  readonly #stats: InboxConsumerStats;
  #revoked = false;
  #committed: string | undefined;
  #running: Promise<void> | undefined;
  #again = false;

  constructor(batch: PartitionBatch, tracker: OffsetTracker, events: TypedEmitter<InboxConsumerEvents>, stats: InboxConsumerStats) {
    this.#batch = batch;
    this.#tracker = tracker;
    this.#events = events;
    this.#stats = stats;
  }

  /** Stops committing for good. */
  revoke(): void {
    this.#revoked = true;
  }

  /** Asks for a commit of the current watermark. */
  request(): void {
    if (this.#revoked) return;
    if (this.#running !== undefined) {
      this.#again = true;
      return;
    }
    this.#running = this.#loop().finally(() => {
      this.#running = undefined;
    });
  }

  /** Waits for the commit in flight, then commits the final watermark. */
  async flush(): Promise<void> {
    while (this.#running !== undefined) await this.#running;
    await this.#commitOnce();
  }

  async #loop(): Promise<void> {
    do {
      this.#again = false;
      await this.#commitOnce();
    } while (this.#again);
  }

  async #commitOnce(): Promise<void> {
    const next = this.#tracker.commitOffset();
    const last = this.#tracker.lastFinished();
    if (next === undefined || last === undefined || next === this.#committed || this.#revoked || !this.#batch.isActive()) return;
    const { topic, partition } = this.#batch;
    this.#batch.resolve(last);
    try {
      if (await this.#batch.commit(next)) {
        this.#committed = next;
        this.#stats.commits++;
        this.#events.emit('inbox:committed', { topic, partition, offset: next });
      }
    } catch (error) {
      // The effects are durable in the inbox; a lost commit only means duplicates to skip.
      this.#events.emit('inbox:error', { error, topic, partition });
    }
  }
}
