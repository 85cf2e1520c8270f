import { describe, expect, it } from 'vitest';
import { leasePlan, shardShare } from './lease-share.ts';

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
