/**
 * At most `limit` operations at once; callers beyond it wait their turn in arrival order.
 * A partition run takes a permit for each database transaction of a lane, so however many
 * lanes split off while messages wait for their retries, no more than `concurrency`
 * transactions of one batch draw on the application's knex pool at a time. Waiting for a
 * retry holds no permit: a key waiting holds back only itself.
 */
export class WorkPermits {
  readonly #limit: number;
  #active = 0;
  readonly #waiting: Array<() => void> = [];

  constructor(limit: number) {
    this.#limit = Math.max(1, limit);
  }

  /** Operations running now. */
  get active(): number {
    return this.#active;
  }

  /** Runs `op` once a permit is free, and frees it when `op` settles. */
  async run<T>(op: () => Promise<T>): Promise<T> {
    if (this.#active >= this.#limit) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    else this.#active++;
    try {
      return await op();
    } finally {
      const next = this.#waiting.shift();
      // The permit passes straight to the next waiter, so a newcomer cannot take it first.
      if (next === undefined) this.#active--;
      else next();
    }
  }
}
