/**
 * At most `limit` transactions at once; callers beyond it wait their turn in arrival order.
 * A partition run takes a slot for each database transaction (or lease run, or dead letter)
 * of its queues, so however many queues split off while messages wait for their retries, no
 * more than `concurrency` transactions of one batch draw on the application's knex pool at a
 * time. Waiting for a retry holds no slot: a key waiting holds back only itself.
 */
export class TransactionSlots {
  readonly #limit: number;
  #active = 0;
  readonly #waiting: Array<() => void> = [];

  constructor(limit: number) {
    this.#limit = Math.max(1, limit);
  }

  /** Transactions running now. */
  get active(): number {
    return this.#active;
  }

  /** Runs `op` once a slot is free, and frees it when `op` settles. */
  async run<T>(op: () => Promise<T>): Promise<T> {
    if (this.#active >= this.#limit) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    else this.#active++;
    try {
      return await op();
    } finally {
      const next = this.#waiting.shift();
      // The slot passes straight to the next waiter, so a newcomer cannot take it first.
      if (next === undefined) this.#active--;
      else next();
    }
  }
}
