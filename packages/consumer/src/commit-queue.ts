import type { PartitionBatch, TypedEmitter } from '@onceflow/core';
import type { InboxConsumerEvents, InboxConsumerStats } from './consumer-events.ts';

/**
 * The offset commits of one partition, across its batches: at most one commit in flight,
 * requests made meanwhile fold into the next one, and the committed offset only moves
 * forward. A batch hands its watermark over and returns at once, so the next fetch does not
 * wait for the broker's answer to a commit. Each commit goes through the batch that asked
 * for it, which refuses once its partition was revoked.
 */
export class CommitQueue {
  readonly #events: TypedEmitter<InboxConsumerEvents>;
  readonly #stats: InboxConsumerStats;
  #committed = -1n;
  #wanted: { offset: string; batch: PartitionBatch } | undefined;
  #running: Promise<void> | undefined;

  constructor(events: TypedEmitter<InboxConsumerEvents>, stats: InboxConsumerStats) {
    this.#events = events;
    this.#stats = stats;
  }

  /** Asks for `nextOffset` (last handled + 1) to be committed through `batch`. */
  request(nextOffset: string, batch: PartitionBatch): void {
    if (BigInt(nextOffset) <= this.#committed) return;
    if (this.#wanted === undefined || BigInt(nextOffset) > BigInt(this.#wanted.offset)) this.#wanted = { offset: nextOffset, batch };
    this.#running ??= this.#loop().finally(() => {
      this.#running = undefined;
    });
  }

  /** Resolves when nothing is in flight or wanted any more. */
  async drain(): Promise<void> {
    while (this.#running !== undefined) await this.#running;
  }

  async #loop(): Promise<void> {
    for (let wanted = this.#wanted; wanted !== undefined; wanted = this.#wanted) {
      this.#wanted = undefined;
      const { offset, batch } = wanted;
      if (BigInt(offset) <= this.#committed) continue;
      try {
        if (await batch.commit(offset)) {
          this.#committed = BigInt(offset);
          this.#stats.commits++;
          this.#events.emit('inbox:committed', { topic: batch.topic, partition: batch.partition, offset });
        }
      } catch (error) {
        // The effects are durable in the inbox; a lost commit only means duplicates to skip.
        this.#events.emit('inbox:error', { error, topic: batch.topic, partition: batch.partition });
      }
    }
  }
}
