import { describe, expect, it } from 'vitest';
import type { LaneLayoutOptions } from './lane-layout.ts';
import { LaneLayout } from './lane-layout.ts';

const layoutOf = (lanes: number, overrides: Partial<LaneLayoutOptions> = {}) =>
  new LaneLayout({ lanes, shrinkAfterMs: 2_000, adaptive: true, wakeAll: () => undefined, changed: () => undefined, ...overrides });

const servedBy = (layout: LaneLayout, lanes: number, shard: number) =>
  Array.from({ length: lanes }, (_, i) => i).filter((i) => layout.serves(i, shard));

describe('LaneLayout', () => {
  it('starts with one lane serving every shard', () => {
    const layout = layoutOf(4);
    expect(layout.active).toBe(1);
    for (let shard = 0; shard < 32; shard++) expect(servedBy(layout, 4, shard)).toEqual([0]);
  });

  it('puts every lane to work after a full batch, once all lanes wait for the layout', async () => {
    let wakes = 0;
    const changes: number[] = [];
    const layout = layoutOf(3, {
      wakeAll: () => wakes++,
      changed: (active) => changes.push(active),
    });
    layout.full(0);
    expect(layout.changing).toBe(true);
    expect(wakes).toBe(1);
    const signal = new AbortController().signal;
    let applied = false;
    const first = layout.waitForLayout(signal).then(() => {
      applied = true;
    });
    const second = layout.waitForLayout(signal);
    await new Promise((resolve) => setImmediate(resolve));
    // Two of three lanes wait: nothing changes yet, and those two keep waiting.
    expect(applied).toBe(false);
    expect(layout.active).toBe(1);
    await layout.waitForLayout(signal);
    await Promise.all([first, second]);
    expect(layout.changing).toBe(false);
    expect(layout.active).toBe(3);
    expect(changes).toEqual([3]);
    for (let shard = 0; shard < 32; shard++) expect(servedBy(layout, 3, shard)).toEqual([shard % 3]);
  });

  it('goes back to one lane only once no batch was full for the set time', async () => {
    const layout = layoutOf(2);
    const signal = new AbortController().signal;
    layout.full(1_000);
    await Promise.all([layout.waitForLayout(signal), layout.waitForLayout(signal)]);
    expect(layout.active).toBe(2);
    layout.check(2_999);
    expect(layout.changing).toBe(false);
    layout.full(2_500);
    layout.check(4_499);
    expect(layout.changing).toBe(false);
    layout.check(4_500);
    expect(layout.changing).toBe(true);
    await Promise.all([layout.waitForLayout(signal), layout.waitForLayout(signal)]);
    expect(layout.active).toBe(1);
  });

  it('releases waiting lanes when the relay stops', async () => {
    const layout = layoutOf(2);
    const stop = new AbortController();
    layout.full(0);
    const waiting = layout.waitForLayout(stop.signal);
    stop.abort();
    await waiting;
    expect(layout.active).toBe(1);
  });

  it('when not adaptive keeps every lane in use', () => {
    const layout = layoutOf(3, { adaptive: false });
    expect(layout.active).toBe(3);
    layout.check(10_000);
    expect(layout.changing).toBe(false);
    layout.full(20_000);
    expect(layout.changing).toBe(false);
    for (let shard = 0; shard < 32; shard++) expect(servedBy(layout, 3, shard)).toEqual([shard % 3]);
  });

  it('with one lane never changes', () => {
    const layout = layoutOf(1);
    layout.full(0);
    layout.check(10_000);
    expect(layout.changing).toBe(false);
  });
});
