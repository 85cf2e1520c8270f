import { deriveSeed, Prng } from './prng.ts';
import type { ChaosProfile } from './profiles.ts';

/** Every kind of fault the schedule injects. */
export const FaultKinds = [
  'kill-relay',
  'kill-consumer',
  'pause-relay',
  'pause-consumer',
  'restart-kafka',
  'terminate-pg',
  'add-consumer',
  'remove-consumer',
  'duplicate-storm',
] as const;

/** One of {@link FaultKinds}. */
export type FaultKind = (typeof FaultKinds)[number];

/** Whose PostgreSQL sessions a `terminate-pg` fault ends. */
export type PgScope = 'all' | 'producer' | 'relay' | 'consumer';

/** One planned fault. `slot` names a process slot: relays 0..R-1, consumers 0..C+E-1 (extras last). */
export type Fault =
  | { readonly atMs: number; readonly kind: 'kill-relay' | 'kill-consumer'; readonly slot: number; readonly restartAfterMs: number }
  | { readonly atMs: number; readonly kind: 'pause-relay' | 'pause-consumer'; readonly slot: number; readonly pauseMs: number }
  | { readonly atMs: number; readonly kind: 'restart-kafka'; readonly downMs: number }
  | { readonly atMs: number; readonly kind: 'terminate-pg'; readonly scope: PgScope }
  | { readonly atMs: number; readonly kind: 'add-consumer' | 'remove-consumer'; readonly slot: number }
  | { readonly atMs: number; readonly kind: 'duplicate-storm'; readonly percent: number; readonly salt: number };

const WEIGHTS: Readonly<Record<Exclude<FaultKind, 'restart-kafka'>, number>> = {
  'kill-relay': 3,
  'kill-consumer': 3,
  'pause-relay': 2,
  'pause-consumer': 2,
  'terminate-pg': 2,
  'add-consumer': 2,
  'remove-consumer': 2,
  'duplicate-storm': 2,
};

/**
 * The fault schedule of a run: a pure function of the seed and the profile, so a printed seed
 * replays the same faults at the same offsets against the same process slots. Every kind
 * occurs at least once (when the profile has room for it).
 */
export function generateSchedule(seed: number, profile: ChaosProfile): Fault[] {
  for (let attempt = 0; attempt < 1_000; attempt++) {
    const schedule = tryGenerate(new Prng(deriveSeed(seed, `schedule:${attempt}`)), profile);
    if (schedule !== undefined) return schedule;
  }
  throw new Error(`cannot build a schedule with every fault kind from ${profile.faults} faults (profile ${profile.name})`);
}

function tryGenerate(rng: Prng, profile: ChaosProfile): Fault[] | undefined {
  const kafkaRestarts = Math.min(profile.kafkaRestarts, profile.faults);
  const kinds: FaultKind[] = Array.from({ length: kafkaRestarts }, () => 'restart-kafka');
  const others = Object.keys(WEIGHTS) as Array<keyof typeof WEIGHTS>;
  const usable = profile.extraConsumers > 0 ? others : others.filter((k) => k !== 'add-consumer' && k !== 'remove-consumer');
  for (const kind of usable) if (kinds.length < profile.faults) kinds.push(kind);
  const total = usable.reduce((sum, k) => sum + WEIGHTS[k], 0);
  while (kinds.length < profile.faults) {
    let roll = rng.next() * total;
    for (const kind of usable) {
      roll -= WEIGHTS[kind];
      if (roll < 0) {
        kinds.push(kind);
        break;
      }
    }
  }
  const order = rng.shuffle(kinds);

  // Faults fall between a warm-up (everything joined) and a quiet tail, at sorted random times.
  const warmup = Math.min(10_000, profile.durationMs * 0.1);
  const span = profile.durationMs * 0.9 - warmup;
  const times = order.map(() => Math.round(warmup + rng.next() * span)).sort((a, b) => a - b);

  // Extras are simulated in order so adds and removes always make sense and slots are exact.
  const running = new Set<number>();
  const firstExtra = profile.consumers;
  const out: Fault[] = [];
  for (const [i, planned] of order.entries()) {
    const atMs = times[i] as number;
    let kind = planned;
    if (kind === 'add-consumer' && running.size === profile.extraConsumers) kind = 'remove-consumer';
    else if (kind === 'remove-consumer' && running.size === 0) kind = 'add-consumer';
    const consumerSlots = [...Array.from({ length: profile.consumers }, (_, s) => s), ...[...running].sort((a, b) => a - b)];
    switch (kind) {
      case 'kill-relay':
      case 'kill-consumer': {
        const slot = kind === 'kill-relay' ? rng.int(0, profile.relays - 1) : rng.pick(consumerSlots);
        out.push({ atMs, kind, slot, restartAfterMs: rng.int(0, 3_000) });
        break;
      }
      case 'pause-relay':
        // Longer than a lease and its renewal: the others take the shards over meanwhile.
        out.push({
          atMs,
          kind,
          slot: rng.int(0, profile.relays - 1),
          pauseMs: rng.int(profile.relayLeaseMs * 2, profile.relayLeaseMs * 4),
        });
        break;
      case 'pause-consumer':
        // Longer than the session: the group rebalances and the paused member wakes as a zombie.
        out.push({
          atMs,
          kind,
          slot: rng.pick(consumerSlots),
          pauseMs: rng.int(Math.round(profile.consumerSessionTimeoutMs * 1.3), profile.consumerSessionTimeoutMs * 2),
        });
        break;
      case 'restart-kafka':
        out.push({ atMs, kind, downMs: rng.int(1_000, 8_000) });
        break;
      case 'terminate-pg':
        out.push({ atMs, kind, scope: rng.pick(['all', 'all', 'producer', 'relay', 'consumer'] as const) });
        break;
      case 'add-consumer': {
        let slot = firstExtra;
        while (running.has(slot)) slot++;
        running.add(slot);
        out.push({ atMs, kind, slot });
        break;
      }
      case 'remove-consumer': {
        const slot = rng.pick([...running].sort((a, b) => a - b));
        running.delete(slot);
        out.push({ atMs, kind, slot });
        break;
      }
      case 'duplicate-storm':
        out.push({ atMs, kind, percent: rng.int(5, 30), salt: rng.int(0, 99) });
        break;
    }
  }
  const seen = new Set(out.map((f) => f.kind));
  const wanted = profile.faults >= usable.length + kafkaRestarts ? [...usable, ...(kafkaRestarts > 0 ? ['restart-kafka'] : [])] : [];
  return wanted.every((k) => seen.has(k as FaultKind)) ? out : undefined;
}

/** Counts faults per kind (every kind listed, zeros included). */
export function countByKind(faults: readonly { kind: FaultKind }[]): Record<FaultKind, number> {
  const counts = Object.fromEntries(FaultKinds.map((k) => [k, 0])) as Record<FaultKind, number>;
  for (const f of faults) counts[f.kind]++;
  return counts;
}

/** A one-line rendering of a fault for logs, e.g. `+12.3s kill-relay slot=1 restart=800ms`. */
export function describeFault(fault: Fault): string {
  const { atMs, kind, ...rest } = fault;
  const params = Object.entries(rest)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  return `+${(atMs / 1000).toFixed(1)}s ${kind}${params === '' ? '' : ` ${params}`}`;
}
