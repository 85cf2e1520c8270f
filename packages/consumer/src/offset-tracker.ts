/**
 * The contiguous watermark of one fetched partition batch. Messages may finish in any order
 * (parallel keys); the offset to commit is always the first one not yet finished, so a
 * committed offset never passes a message whose effect is not durable.
 */
export class OffsetTracker {
  readonly #offsets: readonly string[];
  readonly #index = new Map<string, number>();
  readonly #done: boolean[];
  /** Index of the first unfinished offset. */
  #next = 0;

  /** `offsets`: the batch's offsets in ascending order. */
  constructor(offsets: readonly string[]) {
    this.#offsets = offsets;
    this.#done = offsets.map(() => false);
    for (const [i, o] of offsets.entries()) this.#index.set(o, i);
  }

  /** Marks one offset finished (handled, skipped as duplicate, or dead-lettered). */
  markDone(offset: string): void {
    const i = this.#index.get(offset);
    if (i === undefined) throw new Error(`Offset ${offset} is not part of this batch`);
    this.#done[i] = true;
    while (this.#next < this.#done.length && this.#done[this.#next] === true) this.#next++;
  }

  /** Number of finished offsets at the front of the batch. */
  get finishedPrefix(): number {
    return this.#next;
  }

  /** True when every offset is finished. */
  get complete(): boolean {
    return this.#next === this.#offsets.length;
  }

  /** The last offset of the finished prefix, or undefined when the first is unfinished. */
  lastFinished(): string | undefined {
    return this.#next === 0 ? undefined : this.#offsets[this.#next - 1];
  }

  /** The offset to commit (last finished + 1), or undefined when nothing can be committed yet. */
  commitOffset(): string | undefined {
    const last = this.lastFinished();
    return last === undefined ? undefined : (BigInt(last) + 1n).toString();
  }
}
