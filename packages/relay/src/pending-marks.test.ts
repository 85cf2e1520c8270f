import { describe, expect, it } from 'vitest';
import { PendingMarks } from './pending-marks.ts';
import type { OutboxRow } from './sql/claim-batch.ts';

const row = (shard: number, seq: number) => ({ shard, seq: String(seq) }) as OutboxRow;

describe('PendingMarks', () => {
  it('names the seqs in flight per shard asked for, in seq order, until the marks are written', async () => {
    const marks = new PendingMarks();
    expect(marks.sending([0, 1])).toBeUndefined();
    let written = () => {};
    marks.add(
      [row(1, 3), row(0, 4), row(1, 7)],
      new Promise<void>((resolve) => {
        written = resolve;
      }),
    );
    expect(marks.pending).toBe(true);
    expect(marks.sending([1, 0, 2])).toEqual([['3', '7'], ['4'], []]);
    const settled = marks.settled();
    written();
    await settled;
    expect(marks.pending).toBe(false);
    expect(marks.sending([1])).toBeUndefined();
  });

  it("refuses a second batch's marks while the first one's are being written", () => {
    const marks = new PendingMarks();
    marks.add([row(0, 1)], new Promise<void>(() => {}));
    expect(() => marks.add([row(0, 2)], Promise.resolve())).toThrow(/still being written/);
  });
});
