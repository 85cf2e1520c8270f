/** What a {@link LaneLayout} is built from. */
export interface LaneLayoutOptions {
  /** The relay's `concurrency`: lanes there are. */
  readonly lanes: number;
  /** Back to one lane once no batch has been full for this long. */
  readonly shrinkAfterMs: number;
  /**
   * False keeps every lane in use from the start (a relay that only polls: each lane polls its
   * shards on its own timer, which spreads the rows found over the interval instead of sending
   * them all in one burst).
   */
  readonly adaptive: boolean;
  /** Ends every lane's sleep, so that lanes sleeping when a change is wanted come to wait for it. */
  readonly wakeAll: () => void;
  /** Hears each new number of lanes in use. */
  readonly changed: (active: number) => void;
}

/**
 * How many of a relay's lanes are in use, and which shards each serves: lane `i` of `active`
 * serves the shards `s` with `s % active === i`; lanes from `active` on serve none.
 *
 * A relay woken by notifications (or, on MySQL, polling adaptively) starts with one lane. A full
 * batch means a backlog, so every lane is put to work; once no batch has been full for
 * `shrinkAfterMs`, the rate is one lane can follow and the relay goes back to one. At a steady, moderate rate one lane reads, sends
 * and marks the rows of every notification in one batch, where `concurrency` lanes would each
 * do so for a few of them: fewer statements and sends for the same messages.
 *
 * A shard changes lanes only while nothing is in flight: a change is wanted first, each lane
 * then finishes its batch, waits for its marks and calls {@link LaneLayout.waitForLayout}, and
 * the change applies once every lane waits there. So a key is never in two lanes' batches at
 * once, and no lane skips rows that another lane's unwritten marks cover.
 */
export class LaneLayout {
  readonly #options: LaneLayoutOptions;
  #active: number;
  #wanted: number | undefined;
  #waiting = 0;
  #lastFullAt = Number.NEGATIVE_INFINITY;
  #gate = Promise.withResolvers<void>();

  constructor(options: LaneLayoutOptions) {
    this.#options = options;
    this.#active = options.adaptive ? 1 : options.lanes;
  }

  /** Lanes in use now. */
  get active(): number {
    return this.#active;
  }

  /** True when lane `index` serves `shard` in the current layout. */
  serves(index: number, shard: number): boolean {
    return index < this.#active && shard % this.#active === index;
  }

  /** A change is wanted: lanes should finish their batch, settle and {@link LaneLayout.waitForLayout}. */
  get changing(): boolean {
    return this.#wanted !== undefined;
  }

  /** A batch came back full: there is a backlog, so every lane is wanted. */
  full(now: number): void {
    this.#lastFullAt = now;
    if (this.#active < this.#options.lanes && this.#wanted === undefined) this.#want(this.#options.lanes);
  }

  /** Between batches: goes back to one lane once no batch has been full for a while. */
  check(now: number): void {
    const { adaptive, shrinkAfterMs } = this.#options;
    if (adaptive && this.#active > 1 && this.#wanted === undefined && now - this.#lastFullAt >= shrinkAfterMs) this.#want(1);
  }

  /**
   * Called by a lane with nothing in flight while a change is wanted; resolves once every lane
   * waits here and the new layout is in force, or when `signal` aborts (the relay stops).
   */
  async waitForLayout(signal: AbortSignal): Promise<void> {
    const gate = this.#gate;
    this.#waiting++;
    if (this.#waiting === this.#options.lanes) {
      this.#active = this.#wanted ?? this.#active;
      this.#wanted = undefined;
      this.#waiting = 0;
      this.#gate = Promise.withResolvers<void>();
      gate.resolve();
      this.#options.changed(this.#active);
      return;
    }
    if (signal.aborted) return;
    const onAbort = () => gate.resolve();
    signal.addEventListener('abort', onAbort, { once: true });
    await gate.promise;
    signal.removeEventListener('abort', onAbort);
  }

  #want(lanes: number): void {
    this.#wanted = lanes;
    this.#options.wakeAll();
  }
}
