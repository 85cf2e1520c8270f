import { describe, expect, it } from 'vitest';
import { WorkPermits } from './work-permits.ts';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  const { promise, resolve } = Promise.withResolvers<void>();
  return { promise, resolve };
}

describe('WorkPermits', () => {
  it('runs at most `limit` operations at once and serves waiters in arrival order', async () => {
    const permits = new WorkPermits(2);
    const gates = Array.from({ length: 5 }, deferred);
    const started: number[] = [];
    let most = 0;
    const runs = gates.map((gate, i) =>
      permits.run(async () => {
        started.push(i);
        most = Math.max(most, permits.active);
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
    expect(permits.active).toBe(0);
  });

  it('frees the permit when the operation throws', async () => {
    const permits = new WorkPermits(1);
    await expect(permits.run(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(permits.active).toBe(0);
    expect(await permits.run(async () => 'next')).toBe('next');
  });
});
