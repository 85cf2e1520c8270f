import { describe, expect, it } from 'vitest';
import { OffsetTracker } from './offset-tracker.ts';

describe('OffsetTracker', () => {
  it('commits nothing until the first offset is finished', () => {
    const t = new OffsetTracker(['10', '11', '12']);
    t.markDone('12');
    t.markDone('11');
    expect(t.commitOffset()).toBeUndefined();
    expect(t.lastFinished()).toBeUndefined();
    t.markDone('10');
    expect(t.commitOffset()).toBe('13');
    expect(t.complete).toBe(true);
  });

  it('never passes an unfinished offset, whatever the finishing order', () => {
    const offsets = Array.from({ length: 50 }, (_, i) => String(100 + i * 2)); // gaps, as compaction leaves
    const t = new OffsetTracker(offsets);
    const order = [...offsets].sort(() => Math.random() - 0.5);
    const finished = new Set<string>();
    for (const o of order) {
      t.markDone(o);
      finished.add(o);
      const next = t.commitOffset();
      const firstOpen = offsets.find((x) => !finished.has(x));
      if (firstOpen === undefined) expect(next).toBe('199');
      else if (next !== undefined) expect(BigInt(next)).toBeLessThanOrEqual(BigInt(firstOpen));
      if (firstOpen !== undefined && next !== undefined) expect(t.lastFinished()).toBe(offsets[offsets.indexOf(firstOpen) - 1]);
    }
  });

  it('handles offsets beyond 2^53 and refuses foreign offsets', () => {
    const t = new OffsetTracker(['9007199254740993']);
    t.markDone('9007199254740993');
    expect(t.commitOffset()).toBe('9007199254740994');
    expect(() => t.markDone('1')).toThrow(/not part of this batch/);
  });

  it('counts the finished prefix', () => {
    const t = new OffsetTracker(['0', '1', '2', '3']);
    t.markDone('0');
    t.markDone('2');
    expect(t.finishedPrefix).toBe(1);
    t.markDone('1');
    expect(t.finishedPrefix).toBe(3);
    expect(t.commitOffset()).toBe('3');
  });
});
