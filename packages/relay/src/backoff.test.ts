import { describe, expect, it } from 'vitest';
import { backoffMs } from './backoff.ts';
import { leasePlan, shardShare } from './lease-share.ts';
import { LeaseTable } from './leases.ts';
import { parseShards } from './listener.ts';

describe('backoffMs', () => {
  it('doubles from the minimum up to the maximum, with jitter in the upper half', () => {
    const low = () => 0;
    const high = () => 1;
    expect([1, 2, 3, 4, 5, 6].map((a) => backoffMs(a, 100, 1_000, high))).toEqual([100, 200, 400, 800, 1_000, 1_000]);
    expect([1, 2, 3, 4, 5, 6].map((a) => backoffMs(a, 100, 1_000, low))).toEqual([50, 100, 200, 400, 500, 500]);
    expect(backoffMs(1_000, 100, 60_000, high)).toBe(60_000);
    for (let i = 0; i < 100; i++) {
      const d = backoffMs(3, 100, 10_000);
      expect(d).toBeGreaterThanOrEqual(200);
      expect(d).toBeLessThanOrEqual(400);
    }
  });
});

describe('shard shares', () => {
  it('covers every shard with the ceiling share', () => {
    expect(shardShare(32, 1)).toBe(32);
    expect(shardShare(32, 2)).toBe(16);
    expect(shardShare(32, 3)).toBe(11);
    expect(shardShare(32, 5)).toBe(7);
    expect(shardShare(32, 40)).toBe(1);
    expect(shardShare(32, 0)).toBe(32);
    for (let n = 1; n <= 40; n++) expect(shardShare(32, n) * n).toBeGreaterThanOrEqual(32);
  });

  it('claims up to the share and releases only the excess', () => {
    expect(leasePlan(0, 11)).toEqual({ claim: 11, release: 0 });
    expect(leasePlan(16, 11)).toEqual({ claim: 0, release: 5 });
    expect(leasePlan(11, 11)).toEqual({ claim: 0, release: 0 });
  });
});

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
});

describe('parseShards', () => {
  it('reads the shard list of a notification, or asks to wake everything', () => {
    expect(parseShards('3,17')).toEqual([3, 17]);
    expect(parseShards('')).toBeNull();
    expect(parseShards(undefined)).toBeNull();
    expect(parseShards('x')).toBeNull();
  });
});
