import type { InboxTransactions, MessageHandler } from '../inbox.ts';
import { splitByKey } from '../key-queue.ts';
import type { AttemptResult, ConsumerStrategy, Item, QueueLayout } from '../run-context.ts';
import { attemptFailure, dedupKeysOf, messagesOf } from './attempt-failure.ts';

/** What {@link TransactionalStrategy} runs with. */
export interface TransactionalStrategyOptions {
  readonly inbox: InboxTransactions;
  readonly handler: MessageHandler<unknown>;
  /** Most messages of one queue that share a transaction. */
  readonly maxMessagesPerTransaction: number;
}

/**
 * Transactional mode: the handler runs once per message inside the transaction that records
 * the message in the inbox; messages of one queue that are ready together share a transaction.
 * A failing message is retried alone, so it never holds others' effects back.
 */
export class TransactionalStrategy implements ConsumerStrategy {
  readonly mode = 'transactional';
  readonly #inbox: InboxTransactions;
  readonly #handler: MessageHandler<unknown>;
  readonly #groupSize: number;

  constructor(options: TransactionalStrategyOptions) {
    this.#inbox = options.inbox;
    this.#handler = options.handler;
    this.#groupSize = options.maxMessagesPerTransaction;
  }

  layout(items: readonly Item[], concurrency: number): QueueLayout {
    // One queue per transaction's worth of messages, up to `concurrency`: a small batch runs
    // as one transaction instead of a round of single-message ones.
    const count = Math.min(concurrency, Math.ceil(items.length / this.#groupSize));
    return { queues: splitByKey(items, (i) => i.message.key, count), groupSize: this.#groupSize, splitOnWait: true };
  }

  async attempt(items: readonly Item[]): Promise<AttemptResult> {
    try {
      const result = await this.#inbox.handleGroup(messagesOf(items), dedupKeysOf(items), this.#handler);
      return { kind: 'done', outcomes: result.outcomes, fastPathHits: result.fastPathHits };
    } catch (error) {
      return attemptFailure(error, (index) => (index >= 0 ? index : 'each'));
    }
  }
}
