import { describe, expect, it } from 'vitest';
import { deriveSeed, Prng } from './prng.ts';
import { profiles } from './profiles.ts';
import { countByKind, FaultKinds, generateSchedule } from './schedule.ts';

describe('Prng', () => {
  it('replays the same stream from the same seed, and another from another seed', () => {
    const draw = (seed: number) => {
      const rng = new Prng(seed);
      return Array.from({ length: 5 }, () => rng.nextUint32());
    };
    expect(draw(7)).toEqual(draw(7));
    const a = new Prng(7);
    const b = new Prng(8);
    expect([a.nextUint32(), a.nextUint32()]).not.toEqual([b.nextUint32(), b.nextUint32()]);
    expect(deriveSeed(7, 'producer-0')).toBe(deriveSeed(7, 'producer-0'));
    expect(deriveSeed(7, 'producer-0')).not.toBe(deriveSeed(7, 'producer-1'));
  });

  it('keeps int() within bounds', () => {
    const rng = new Prng(1);
    const seen = new Set<number>();
    for (let i = 0; i < 2_000; i++) seen.add(rng.int(3, 6));
    expect([...seen].sort()).toEqual([3, 4, 5, 6]);
  });
});

describe('generateSchedule', () => {
  it('is a pure function of the seed', () => {
    expect(generateSchedule(123, profiles.short)).toEqual(generateSchedule(123, profiles.short));
    expect(generateSchedule(123, profiles.short)).not.toEqual(generateSchedule(124, profiles.short));
  });

  it.each(Object.values(profiles))('has every fault kind, in time order and in bounds ($name)', (profile) => {
    for (const seed of [1, 2, 3, 99, 4_000_000_000]) {
      const schedule = generateSchedule(seed, profile);
      expect(schedule).toHaveLength(profile.faults);
      const counts = countByKind(schedule);
      for (const kind of FaultKinds) expect(counts[kind], `${kind} (seed ${seed})`).toBeGreaterThan(0);
      expect(counts['restart-kafka']).toBe(profile.kafkaRestarts);
      const times = schedule.map((f) => f.atMs);
      expect(times).toEqual([...times].sort((a, b) => a - b));
      expect(Math.max(...times)).toBeLessThanOrEqual(profile.durationMs);
      // Adds and removes of extra consumers alternate sensibly per slot.
      const extras = new Set<number>();
      for (const fault of schedule) {
        if (fault.kind === 'add-consumer') {
          expect(extras.has(fault.slot)).toBe(false);
          expect(fault.slot).toBeGreaterThanOrEqual(profile.consumers);
          extras.add(fault.slot);
        } else if (fault.kind === 'remove-consumer') {
          expect(extras.delete(fault.slot)).toBe(true);
        } else if (fault.kind === 'kill-consumer' || fault.kind === 'pause-consumer') {
          expect(fault.slot < profile.consumers || extras.has(fault.slot)).toBe(true);
        } else if (fault.kind === 'pause-relay') {
          expect(fault.pauseMs).toBeGreaterThan(profile.relayLeaseMs);
        }
        if (fault.kind === 'pause-consumer') expect(fault.pauseMs).toBeGreaterThan(profile.consumerSessionTimeoutMs);
      }
    }
  });
});
