import { describe, expect, it } from 'vitest';
import { splitIntoLanes } from './lanes.ts';

describe('splitIntoLanes', () => {
  const items = Array.from({ length: 200 }, (_, i) => ({ key: `k${i % 17}`, n: i }));

  it('keeps every key in one lane, in order', () => {
    const lanes = splitIntoLanes(items, (i) => i.key, 4);
    expect(lanes.length).toBeLessThanOrEqual(4);
    expect(lanes.flat()).toHaveLength(200);
    const laneOf = new Map<string, number>();
    lanes.forEach((lane, l) => {
      for (const item of lane) {
        expect(laneOf.get(item.key) ?? l).toBe(l);
        laneOf.set(item.key, l);
      }
      const ns = lane.map((i) => i.n);
      expect(ns).toEqual([...ns].sort((a, b) => a - b));
    });
  });

  it('uses one lane when the limit is 1, and spreads keyless items', () => {
    expect(splitIntoLanes(items, (i) => i.key, 1)).toEqual([items]);
    const keyless = splitIntoLanes([1, 2, 3, 4], () => null, 2);
    expect(keyless).toEqual([
      [1, 3],
      [2, 4],
    ]);
  });
});
