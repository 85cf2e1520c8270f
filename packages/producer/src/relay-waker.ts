import type { Logger } from '@onceflow/core';
import { afterCommit, prepared } from '@onceflow/core';
import type { Knex } from 'knex';

/**
 * Wakes idle relays after producer transactions commit: a NOTIFY on the outbox channel naming
 * the shards written, sent from the application's pool in a transaction of its own.
 *
 * Why not from inside the producer's transaction (a trigger): PostgreSQL takes one
 * database-wide lock for every committing transaction that sent a NOTIFY and holds it until
 * that commit is flushed, so such commits queue up one flush after the other. Here the
 * NOTIFY transaction writes nothing else and does not wait for its flush
 * (`synchronous_commit = off`: a notification is a hint; lost, the relays' polling finds the
 * rows), so it holds that lock only briefly. Wake-ups of commits that land while one NOTIFY is
 * under way are merged into the next, so a busy producer sends far fewer NOTIFYs than commits.
 */
export class RelayWaker {
  readonly #knex: Knex;
  readonly #channel: string;
  readonly #logger: Logger;
  readonly #shards = new Set<number>();
  #sending = false;

  constructor(knex: Knex, channel: string, logger: Logger) {
    this.#knex = knex;
    this.#channel = channel;
    this.#logger = logger;
  }

  /**
   * Wakes the relays of `shards` once `trx` has committed (its outermost transaction, when it
   * is a savepoint); nothing if it rolls back.
   */
  afterCommit(trx: Knex.Transaction, shards: readonly number[]): void {
    afterCommit(trx, () => this.wake(shards));
  }

  /** Sends a NOTIFY naming `shards`, merged with any others waiting. */
  wake(shards: Iterable<number>): void {
    for (const shard of shards) this.#shards.add(shard);
    if (!this.#sending) void this.#send();
  }

  async #send(): Promise<void> {
    this.#sending = true;
    try {
      while (this.#shards.size > 0) {
        const payload = [...this.#shards].sort((a, b) => a - b).join(',');
        this.#shards.clear();
        try {
          // The channel is a bind parameter of pg_notify, never SQL text.
          await prepared(this.#knex, `select set_config('synchronous_commit', 'off', true), pg_notify(?, ?)`, [this.#channel, payload]);
        } catch (error) {
          this.#logger.warn({ error, channel: this.#channel }, 'Waking relays failed; they will find the new messages by polling');
        }
      }
    } finally {
      this.#sending = false;
    }
  }
}
