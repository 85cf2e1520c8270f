import { deriveSeed, Prng } from './prng.ts';
import type { ChaosProfile } from './profiles.ts';

/** Every kind of fault the schedule injects, over all profiles (see {@link faultKindsOf}). */
export const FaultKinds = [
  'kill-relay',
  'kill-consumer',
  'pause-relay',
  'pause-consumer',
  'restart-kafka',
  'kill-leader',
  'freeze-broker',
  'rolling-restart',
  'terminate-pg',
  'restart-pg',
  'add-consumer',
  'remove-consumer',
  'duplicate-storm',
] as const;

/** One of {@link FaultKinds}. */
export type FaultKind = (typeof FaultKinds)[number];

/** Kafka fault kinds of the three-node cluster, in the order they take turns. */
const CLUSTER_FAULT_CYCLE = ['kill-leader', 'freeze-broker', 'rolling-restart', 'kill-leader', 'freeze-broker'] as const;

/**
 * `broker.session.timeout.ms` of the nodes of scripts/kafka-cluster.sh: a frozen broker stays
 * silent longer than this, so the controllers fence it and move its leaderships away.
 */
export const CLUSTER_BROKER_SESSION_MS = 6_000;

/** Whose PostgreSQL sessions a `terminate-pg` fault ends. */
export type PgScope = 'all' | 'producer' | 'relay' | 'consumer';

/** One planned fault. `slot` names a process slot: relays 0..R-1, consumers 0..C+E-1 (extras last). */
export type Fault =
  | { readonly atMs: number; readonly kind: 'kill-relay' | 'kill-consumer'; readonly slot: number; readonly restartAfterMs: number }
  | { readonly atMs: number; readonly kind: 'pause-relay' | 'pause-consumer'; readonly slot: number; readonly pauseMs: number }
  | { readonly atMs: number; readonly kind: 'restart-kafka'; readonly downMs: number }
  /** SIGKILL of the node leading partition `partition` of the run's topic number `topic`, started again after `downMs`. */
  | { readonly atMs: number; readonly kind: 'kill-leader'; readonly topic: number; readonly partition: number; readonly downMs: number }
  /** SIGSTOP of cluster node `node` (1..3) for `freezeMs`, longer than its session with the controllers. */
  | { readonly atMs: number; readonly kind: 'freeze-broker'; readonly node: number; readonly freezeMs: number }
  /** Graceful restart of each node in `order`, waiting for every ISR to be whole before the next. */
  | { readonly atMs: number; readonly kind: 'rolling-restart'; readonly order: readonly number[] }
  | { readonly atMs: number; readonly kind: 'terminate-pg'; readonly scope: PgScope }
  /** The PostgreSQL server stopped (`-m fast`) and started again after `downMs`. */
  | { readonly atMs: number; readonly kind: 'restart-pg'; readonly downMs: number }
  | { readonly atMs: number; readonly kind: 'add-consumer' | 'remove-consumer'; readonly slot: number }
  | { readonly atMs: number; readonly kind: 'duplicate-storm'; readonly percent: number; readonly salt: number };

/** Kinds drawn at random, by weight; Kafka faults and PostgreSQL restarts come in fixed numbers. */
type DrawnKind =
  | 'kill-relay'
  | 'kill-consumer'
  | 'pause-relay'
  | 'pause-consumer'
  | 'terminate-pg'
  | 'add-consumer'
  | 'remove-consumer'
  | 'duplicate-storm';

const WEIGHTS: Readonly<Record<DrawnKind, number>> = {
  'kill-relay': 3,
  'kill-consumer': 3,
  'pause-relay': 2,
  'pause-consumer': 2,
  'terminate-pg': 2,
  'add-consumer': 2,
  'remove-consumer': 2,
  'duplicate-storm': 2,
};

function drawnKinds(profile: ChaosProfile): DrawnKind[] {
  const all = Object.keys(WEIGHTS) as DrawnKind[];
  return profile.extraConsumers > 0 ? all : all.filter((k) => k !== 'add-consumer' && k !== 'remove-consumer');
}

/** The Kafka faults (single broker: restarts; cluster: the kinds take turns) and PostgreSQL restarts. */
function fixedKinds(profile: ChaosProfile): FaultKind[] {
  const kafka = Array.from(
    { length: profile.kafkaFaults },
    (_, i): FaultKind =>
      profile.kafka === 'single' ? 'restart-kafka' : (CLUSTER_FAULT_CYCLE[i % CLUSTER_FAULT_CYCLE.length] as FaultKind),
  );
  return [...kafka, ...Array.from({ length: profile.pgRestarts }, (): FaultKind => 'restart-pg')];
}

/** The kinds a profile's schedule contains, each at least once. */
export function faultKindsOf(profile: ChaosProfile): FaultKind[] {
  const present = new Set<FaultKind>([...fixedKinds(profile), ...drawnKinds(profile)]);
  return FaultKinds.filter((kind) => present.has(kind));
}

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
  const fixed = fixedKinds(profile);
  const kinds: FaultKind[] = fixed.slice(0, profile.faults);
  const usable = drawnKinds(profile);
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
      case 'kill-leader':
        out.push({
          atMs,
          kind,
          topic: rng.int(0, profile.topics - 1),
          partition: rng.int(0, profile.partitions - 1),
          downMs: rng.int(1_000, 8_000),
        });
        break;
      case 'freeze-broker':
        // Past the broker's session: the controllers fence it while it sleeps, and it wakes up
        // believing it still leads its partitions.
        out.push({
          atMs,
          kind,
          node: rng.int(1, 3),
          freezeMs: rng.int(Math.round(CLUSTER_BROKER_SESSION_MS * 1.5), Math.round(CLUSTER_BROKER_SESSION_MS * 2.5)),
        });
        break;
      case 'rolling-restart':
        out.push({ atMs, kind, order: rng.shuffle([1, 2, 3]) });
        break;
      case 'restart-pg':
        out.push({ atMs, kind, downMs: rng.int(0, 3_000) });
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
  const wanted = profile.faults >= usable.length + fixed.length ? faultKindsOf(profile) : [];
  return wanted.every((k) => seen.has(k)) ? out : undefined;
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
