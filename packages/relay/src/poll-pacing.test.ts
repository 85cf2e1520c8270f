import { describe, expect, it } from 'vitest';
import { AdaptivePolling, BUSY_POLL_MS, fixedPolling } from './poll-pacing.ts';

describe('poll pacing', () => {
  it('fixed: the poll interval whatever was found', () => {
    const pacing = fixedPolling(1_000);
    expect([pacing.afterRows(), pacing.afterNothing(), pacing.afterNothing()]).toEqual([1_000, 1_000, 1_000]);
  });

  it('adaptive: reads again at once after rows, doubles the wait while idle up to the interval, and is busy again on rows', () => {
    const pacing = new AdaptivePolling(100);
    expect(pacing.afterRows()).toBe(BUSY_POLL_MS);
    const idle = Array.from({ length: 6 }, () => pacing.afterNothing());
    expect(idle).toEqual([10, 20, 40, 80, 100, 100]);
    expect(pacing.afterRows()).toBe(BUSY_POLL_MS);
    expect(pacing.afterNothing()).toBe(10);
  });

  it('adaptive: never waits longer than a short interval, even at the start', () => {
    const pacing = new AdaptivePolling(3);
    expect([pacing.afterRows(), pacing.afterNothing(), pacing.afterNothing()]).toEqual([3, 3, 3]);
  });
});
