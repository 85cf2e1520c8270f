import { describe, expect, it } from 'vitest';
import { TransactionSlots } from './transaction-slots.ts';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  const { promise, resolve } = Promise.withResolvers<void>();
  return { promise, resolve };
}

describe('TransactionSlots', () => {
  it('runs at most `limit` operations at once and serves waiters in arrival order', async () => {
    const slots = new TransactionSlots(2);
    const gates = Array.from({ length: 5 }, deferred);
    const started: number[] = [];
    let most = 0;
    const runs = gates.map((gate, i) =>
      slots.run(async () => {
        started.push(i);
        most = Math.max(most, slots.active);
        await gate.promise;
        return i;
      }),
    );
    await Promise.resolve();
    expect(started).toEqual([0, 1]);
    gates[1]?.resolve();
    await runs[1];
    await Promise.resolve();
    expect(started).toEqual([0, 1, 2]);
    for (const gate of gates) gate.resolve();
    expect(await Promise.all(runs)).toEqual([0, 1, 2, 3, 4]);
    expect(started).toEqual([0, 1, 2, 3, 4]);
    expect(most).toBe(2);
    expect(slots.active).toBe(0);
  });

  it('frees the slot when the operation throws', async () => {
    const slots = new TransactionSlots(1);
    await expect(slots.run(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(slots.active).toBe(0);
    expect(await slots.run(async () => 'next')).toBe('next');
  });
});
