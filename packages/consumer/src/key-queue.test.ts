import { describe, expect, it } from 'vitest';
import type { ConsumedMessage } from './consumed-message.ts';
import type { WorkUnit } from './key-queue.ts';
import { KeyQueue, splitByKey } from './key-queue.ts';
import type { Item } from './run-context.ts';

describe('splitByKey', () => {
  const items = Array.from({ length: 200 }, (_, i) => ({ key: `k${i % 17}`, n: i }));

  it('keeps every key in one queue, in order', () => {
    const queues = splitByKey(items, (i) => i.key, 4);
    expect(queues.length).toBeLessThanOrEqual(4);
    expect(queues.flat()).toHaveLength(200);
    const queueOf = new Map<string, number>();
    queues.forEach((queue, l) => {
      for (const item of queue) {
        expect(queueOf.get(item.key) ?? l).toBe(l);
        queueOf.set(item.key, l);
      }
      const ns = queue.map((i) => i.n);
      expect(ns).toEqual([...ns].sort((a, b) => a - b));
    });
  });

  it('uses one queue when the limit is 1, and spreads keyless items', () => {
    expect(splitByKey(items, (i) => i.key, 1)).toEqual([items]);
    const keyless = splitByKey([1, 2, 3, 4], () => null, 2);
    expect(keyless).toEqual([
      [1, 3],
      [2, 4],
    ]);
  });
});

describe('KeyQueue', () => {
  const item = (offset: number, key: string | null, keyed = true): Item => ({
    message: { offset: String(offset), key } as ConsumedMessage,
    dedupKey: keyed ? `d${offset}` : undefined,
    keyError: keyed ? undefined : new Error('no dedup key'),
  });
  const offsets = (unit: WorkUnit | undefined) =>
    unit === undefined
      ? undefined
      : unit.kind === 'dead-letter'
        ? `dead ${unit.item.message.offset}`
        : unit.items.map((i) => i.message.offset);

  it('groups consecutive messages up to the group size, stopping before one without a dedup key', () => {
    const queue = new KeyQueue([item(0, 'a'), item(1, 'b'), item(2, 'a'), item(3, 'c', false), item(4, 'a')], {
      groupSize: 2,
      splitOnWait: true,
    });
    expect(offsets(queue.next())).toEqual(['0', '1']);
    queue.complete(2);
    expect(offsets(queue.next())).toEqual(['2']);
    queue.complete(1);
    expect(offsets(queue.next())).toBe('dead 3');
    queue.complete(1);
    expect(offsets(queue.next())).toEqual(['4']);
    queue.complete(1);
    expect(queue.next()).toBeUndefined();
  });

  it('runs an isolated message alone with its history; the ones before it group again', () => {
    const queue = new KeyQueue([item(0, 'a'), item(1, 'b'), item(2, 'c'), item(3, 'd')], { groupSize: 10, splitOnWait: true });
    const failure = new Error('handler of 2 threw');
    queue.isolate(2, [failure]);
    expect(offsets(queue.next())).toEqual(['0', '1']);
    queue.complete(2);
    expect(queue.next()).toEqual({ kind: 'attempt', items: [item(2, 'c')], failures: [failure] });
    queue.complete(1);
    expect(offsets(queue.next())).toEqual(['3']);
    queue.isolateEach(1);
    expect(queue.next()).toMatchObject({ failures: [] });
  });

  it('splits the other keys off behind a waiting message; its own key stays', () => {
    const queue = new KeyQueue([item(0, 'a'), item(1, 'b'), item(2, 'a'), item(3, 'c')], { groupSize: 10, splitOnWait: true });
    const rest = queue.splitOff();
    expect(queue.size).toBe(2);
    expect(offsets(queue.next())).toEqual(['0', '2']);
    expect(offsets(rest?.next())).toEqual(['1', '3']);
    // A second wait of the same message has nothing more to move.
    expect(queue.splitOff()).toBeUndefined();
    // A batch-mode queue never splits: the whole queue waits.
    const whole = new KeyQueue([item(0, 'a'), item(1, 'b')], { groupSize: 10, splitOnWait: false });
    expect(whole.splitOff()).toBeUndefined();
    expect(whole.size).toBe(2);
  });
});
