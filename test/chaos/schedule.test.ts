import { describe, expect, it } from 'vitest';
import { deriveSeed, Prng } from './prng.ts';
import type { ChaosProfile, ProfileName } from './profiles.ts';
import { clusterProfile, profiles, unsupportedOn } from './profiles.ts';
import { CLUSTER_BROKER_SESSION_MS, countByKind, FaultKinds, faultKindsOf, generateSchedule } from './schedule.ts';

const names = Object.keys(profiles) as ProfileName[];
const allProfiles: ChaosProfile[] = [...Object.values(profiles), ...names.map(clusterProfile)];

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

  it.each(allProfiles)('has every fault kind of its profile, in time order and in bounds ($name)', (profile) => {
    for (const seed of [1, 2, 3, 99, 4_000_000_000]) {
      const schedule = generateSchedule(seed, profile);
      expect(schedule).toHaveLength(profile.faults);
      const counts = countByKind(schedule);
      const kinds = faultKindsOf(profile);
      for (const kind of FaultKinds) {
        if (kinds.includes(kind)) expect(counts[kind], `${kind} (seed ${seed})`).toBeGreaterThan(0);
        else expect(counts[kind], `${kind} (seed ${seed})`).toBe(0);
      }
      const clusterFaults = counts['kill-leader'] + counts['freeze-broker'] + counts['rolling-restart'];
      expect(profile.kafka === 'single' ? counts['restart-kafka'] : clusterFaults).toBe(profile.kafkaFaults);
      expect(counts['restart-pg']).toBe(profile.pgRestarts);
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
        if (fault.kind === 'freeze-broker') {
          expect(fault.freezeMs).toBeGreaterThan(CLUSTER_BROKER_SESSION_MS);
          expect([1, 2, 3]).toContain(fault.node);
        }
        if (fault.kind === 'kill-leader') {
          expect(fault.topic).toBeLessThan(profile.topics);
          expect(fault.partition).toBeLessThan(profile.partitions);
        }
        if (fault.kind === 'rolling-restart') expect([...fault.order].sort()).toEqual([1, 2, 3]);
      }
    }
  });
});

describe('profiles', () => {
  it('restarts the shared PostgreSQL server only in the long profile', () => {
    for (const profile of allProfiles) expect(profile.pgRestarts > 0, profile.name).toBe(profile.name.startsWith('long'));
  });

  it('replaces whole-broker restarts by leader kills, freezes and rolling restarts on the cluster', () => {
    for (const name of names) {
      expect(faultKindsOf(profiles[name])).toContain('restart-kafka');
      const cluster = faultKindsOf(clusterProfile(name));
      expect(cluster).not.toContain('restart-kafka');
      expect(cluster).toEqual(expect.arrayContaining(['kill-leader', 'freeze-broker', 'rolling-restart']));
    }
  });

  it('gives the long cluster run at least 200,000 messages and 100 faults', () => {
    const long = clusterProfile('long');
    expect(long.messages).toBeGreaterThanOrEqual(200_000);
    expect(long.faults).toBeGreaterThanOrEqual(100);
  });

  it('refuses server restarts on MariaDB, and runs every other profile there without restart-pg', () => {
    for (const profile of allProfiles) {
      expect(unsupportedOn(profile, 'postgres'), profile.name).toBeUndefined();
      const refused = unsupportedOn(profile, 'mariadb');
      if (profile.pgRestarts > 0)
        expect(refused, profile.name).toMatch(/restarts the database server .* on MariaDB use the short, ci or smoke/);
      else {
        expect(refused, profile.name).toBeUndefined();
        expect(faultKindsOf(profile), profile.name).not.toContain('restart-pg');
      }
    }
    expect(unsupportedOn({ ...profiles.smoke, pgRestarts: 2 }, 'mariadb')).toContain('profile smoke');
  });
});
