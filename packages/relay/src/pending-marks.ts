import type { OutboxRow } from './sql/claim-batch.ts';

/**
 * The marks of a lane's last clean batch (every row published) while they are written in the
 * background, and the seqs that batch sent, per shard. This is the lane's pipelining: batch
 * `n + 1` is read and sent while batch `n`'s marks are written.
 *
 * Invariants the lane keeps through this object:
 * - One batch's marks at a time: the lane awaits {@link PendingMarks.settled} before it writes
 *   another batch's marks, and before a layout change, a hand-over, a sleep or stopping. So
 *   when a lane has nothing in flight, every row it sent is marked (or, if a mark failed,
 *   pending again, to be sent again: a duplicate, never a loss).
 * - The next claim skips exactly the rows in flight ({@link PendingMarks.sending}), so no row
 *   is sent twice. Not by a seq bound: a row of another key with a lower seq whose transaction
 *   committed late is taken in its seq place at once, not passed over.
 * - Key order: the rows in flight were acknowledged by the broker before the next batch is
 *   sent, and the next batch holds only later rows of their keys (a key's rows commit in seq
 *   order), so a key's rows go out one batch after the other.
 */
export class PendingMarks {
  #writing: Promise<void> | undefined;
  #sent: ReadonlyMap<number, readonly string[]> = new Map();

  /** True while a batch's marks are being written. */
  get pending(): boolean {
    return this.#writing !== undefined;
  }

  /**
   * For each of `shards`, the seqs (ascending) whose marks are being written, which the next
   * claim must skip; undefined when nothing is in flight.
   */
  sending(shards: readonly number[]): Array<readonly string[]> | undefined {
    if (this.#writing === undefined) return undefined;
    return shards.map((shard) => this.#sent.get(shard) ?? []);
  }

  /**
   * Takes over the marks of a clean batch, `rows` in seq order, being written by `writing`
   * (which must not reject). Only once the previous marks {@link settled}.
   */
  add(rows: readonly OutboxRow[], writing: Promise<void>): void {
    if (this.#writing !== undefined)
      throw new Error("PendingMarks.add: the previous batch's marks are still being written; await settled() first");
    const sent = new Map<number, string[]>();
    for (const row of rows) {
      const seqs = sent.get(row.shard);
      if (seqs === undefined) sent.set(row.shard, [row.seq]);
      else seqs.push(row.seq);
    }
    this.#sent = sent;
    this.#writing = writing;
  }

  /** Resolves once the marks in flight are written; nothing is in flight after. */
  async settled(): Promise<void> {
    const writing = this.#writing;
    if (writing === undefined) return;
    await writing;
    if (this.#writing === writing) {
      this.#writing = undefined;
      this.#sent = new Map();
    }
  }
}
