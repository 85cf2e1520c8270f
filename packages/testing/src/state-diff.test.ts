import { describe, expect, it } from 'vitest';
import { canonicalState, diffStates, statesEqual } from './state-diff.ts';

describe('state comparison', () => {
  it('compares by value: key order, Dates, Buffers, bigints', () => {
    const a = { rows: [{ b: 2, a: new Date(0), bytes: Buffer.from('hi'), n: 5n }] };
    const b = { rows: [{ a: new Date(0), n: 5n, bytes: Buffer.from('hi'), b: 2 }] };
    expect(statesEqual(a, b)).toBe(true);
    expect(canonicalState(a)).toEqual({ rows: [{ a: '1970-01-01T00:00:00.000Z', b: 2, bytes: '<hex 6869>', n: '5n' }] });
    expect(diffStates(a, b)).toEqual([]);
  });

  it('shows a doubled row as one + line with the counts', () => {
    const single = { rewards: [{ order: 'ORD-1', points: 10 }], balance: 10 };
    const twice = {
      rewards: [
        { order: 'ORD-1', points: 10 },
        { order: 'ORD-1', points: 10 },
      ],
      balance: 20,
    };
    expect(diffStates(single, twice)).toEqual([
      'balance: 20; a single delivery gives 10',
      'rewards: 2 items; a single delivery leaves 1',
      '  + {"order":"ORD-1","points":10}',
    ]);
  });

  it('names missing and unexpected entries, changed rows and reordering', () => {
    expect(diffStates({ a: 1 }, { b: 1 })).toEqual([
      'a: missing; a single delivery gives 1',
      'b: unexpected 1; a single delivery has no such entry',
    ]);
    expect(diffStates([{ id: 1, s: 'x' }], [{ id: 1, s: 'y' }])).toEqual([
      '(state): 1 items, as after a single delivery, but some differ',
      '  + {"id":1,"s":"y"}',
      '  - {"id":1,"s":"x"}',
    ]);
    expect(diffStates([1, 2], [2, 1])).toEqual(['(state): the same 2 items in another order (sort rows in your snapshot)']);
    expect(
      diffStates(
        Array.from({ length: 50 }, (_, i) => i),
        [],
        3,
      ),
    ).toHaveLength(4);
  });
});
