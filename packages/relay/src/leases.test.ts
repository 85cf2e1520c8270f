import { describe, expect, it } from 'vitest';
import { LeaseTable } from './leases.ts';

describe('LeaseTable', () => {
  it('judges validity by the local clock from when the claim was sent, with a margin', () => {
    const table = new LeaseTable(1_000);
    table.hold({ shard: 3, token: '7' }, 10_000);
    expect(table.isValid(3, '7', 10_500)).toBe(true);
    expect(table.isValid(3, '7', 10_800)).toBe(false);
    expect(table.isValid(3, '6', 10_100)).toBe(false);
    table.hold({ shard: 3, token: '7' }, 10_700);
    expect(table.isValid(3, '7', 11_400)).toBe(true);
    table.hold({ shard: 3, token: '8' }, 11_000);
    expect(table.isValid(3, '7', 11_100)).toBe(false);
    expect(table.drop(3)?.token).toBe('8');
    expect(table.size).toBe(0);
  });

  it('a renewal extends a lease still held, and never brings back one handed over meanwhile', () => {
    const table = new LeaseTable(1_000);
    table.hold({ shard: 4, token: '9' }, 0);
    table.renew({ shard: 4, token: '9' }, 500);
    expect(table.isValid(4, '9', 1_200)).toBe(true);
    table.drop(4);
    table.renew({ shard: 4, token: '9' }, 1_000);
    expect(table.get(4)).toBeUndefined();
    table.hold({ shard: 4, token: '10' }, 1_000);
    table.renew({ shard: 4, token: '9' }, 1_500);
    expect(table.isValid(4, '10', 1_900)).toBe(false);
  });

  it('hands out snapshots: a lease changes only through the table', () => {
    const table = new LeaseTable(1_000);
    table.hold({ shard: 1, token: '1' }, 0);
    const before = table.get(1);
    expect(Object.isFrozen(before)).toBe(true);
    table.drain(1);
    expect(before?.draining).toBe(false);
    expect(table.get(1)?.draining).toBe(true);
    // A renewal keeps the drain asked for.
    table.hold({ shard: 1, token: '1' }, 100);
    expect(table.all().map((l) => [l.shard, l.draining])).toEqual([[1, true]]);
  });

  it('a check for held keys is trusted only if no failure was recorded since it read the version', async () => {
    const table = new LeaseTable(1_000);
    table.hold({ shard: 2, token: '5' }, 0);
    expect(table.mayHoldKeys([2])).toBe(true);
    const clean = table.get(2)?.holdsVersion as number;
    table.clearHoldsKeys(2, clean);
    expect(table.mayHoldKeys([2])).toBe(false);

    // A check reads the version, then a failure is recorded while its query runs.
    const read = table.get(2)?.holdsVersion as number;
    let during: boolean | undefined;
    await table.recordingFailures([2], async () => {
      // Claims look for held keys while the write is under way.
      during = table.mayHoldKeys([2]);
    });
    expect(during).toBe(true);
    table.clearHoldsKeys(2, read);
    expect(table.mayHoldKeys([2])).toBe(true);

    // A check that read the version while the write was under way is not trusted either.
    let readDuring = 0;
    await table.recordingFailures([2], async () => {
      readDuring = table.get(2)?.holdsVersion as number;
    });
    table.clearHoldsKeys(2, readDuring);
    expect(table.mayHoldKeys([2])).toBe(true);
  });

  it('a new lease of the shard is never cleared by a check of the old one', () => {
    const table = new LeaseTable(1_000);
    table.hold({ shard: 4, token: '1' }, 0);
    const old = table.get(4)?.holdsVersion as number;
    table.drop(4);
    table.hold({ shard: 4, token: '2' }, 0);
    table.clearHoldsKeys(4, old);
    expect(table.mayHoldKeys([4])).toBe(true);
  });

  it('bumps the version even when the write fails', async () => {
    const table = new LeaseTable(1_000);
    table.hold({ shard: 6, token: '1' }, 0);
    let read = 0;
    await expect(
      table.recordingFailures([6], async () => {
        read = table.get(6)?.holdsVersion as number;
        throw new Error('database down');
      }),
    ).rejects.toThrow('database down');
    table.clearHoldsKeys(6, read);
    expect(table.mayHoldKeys([6])).toBe(true);
  });
});
