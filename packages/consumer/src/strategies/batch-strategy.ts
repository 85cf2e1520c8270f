import type { BatchHandler, InboxTransactions } from '../inbox.ts';
import type { AttemptResult, ConsumerStrategy, Item, QueueLayout } from '../run-context.ts';
import { attemptFailure, dedupKeysOf, messagesOf } from './attempt-failure.ts';

/** What {@link BatchStrategy} runs with. */
export interface BatchStrategyOptions {
  readonly inbox: InboxTransactions;
  readonly handler: BatchHandler<unknown>;
  /** Most messages per batch transaction. */
  readonly maxBatchSize: number;
}

/**
 * Batch mode: one queue per partition batch, worked in chunks of `maxBatchSize`, each one
 * transaction and one handler call with only the new messages. A failing chunk is retried as
 * a whole; once it gives up, each of its messages runs alone with its own attempts, which
 * isolates the poison.
 */
export class BatchStrategy implements ConsumerStrategy {
  readonly mode = 'batch';
  readonly #inbox: InboxTransactions;
  readonly #handler: BatchHandler<unknown>;
  readonly #maxBatchSize: number;

  constructor(options: BatchStrategyOptions) {
    this.#inbox = options.inbox;
    this.#handler = options.handler;
    this.#maxBatchSize = options.maxBatchSize;
  }

  layout(items: readonly Item[]): QueueLayout {
    // Messages without a dedup key are never handled, so dead-lettering them first changes no
    // order, and the chunks then span only messages that can be handled.
    const keyless = items.filter((i) => i.dedupKey === undefined);
    const keyed = items.filter((i) => i.dedupKey !== undefined);
    return { queues: [[...keyless, ...keyed]], groupSize: this.#maxBatchSize, splitOnWait: false };
  }

  async attempt(items: readonly Item[]): Promise<AttemptResult> {
    try {
      const result = await this.#inbox.handleBatch(messagesOf(items), dedupKeysOf(items), this.#handler);
      return { kind: 'done', outcomes: result.outcomes, fastPathHits: result.fastPathHits };
    } catch (error) {
      // One handler call for the whole chunk: no single message is to blame.
      return attemptFailure(error, () => 'none');
    }
  }
}
