/** The size and timings of one chaos run. Every field is fixed by the profile, never by the clock. */
export interface ChaosProfile {
  readonly name: string;
  /** Committed producer messages to write, over all producers (rolled-back ones come on top). */
  readonly messages: number;
  /** Producer processes. */
  readonly producers: number;
  /** Transactions each producer keeps open at once (overlapping same-key writers test commit order). */
  readonly producerConcurrency: number;
  /** Most messages in one producer transaction. */
  readonly maxMessagesPerTransaction: number;
  /** Share of producer transactions rolled back on purpose. */
  readonly rollbackRate: number;
  /** Messages planted whose handler always throws FatalHandlerError. */
  readonly poison: number;
  /** Relay processes. */
  readonly relays: number;
  /** Consumer processes always in the group. */
  readonly consumers: number;
  /** Consumers the schedule may add (and remove again) to cause rebalances. */
  readonly extraConsumers: number;
  readonly topics: number;
  readonly partitions: number;
  readonly keysPerTopic: number;
  /** Length of the producing phase; faults are spread over it. */
  readonly durationMs: number;
  /** Faults in the schedule. */
  readonly faults: number;
  /** The Kafka the run uses: the single local broker, or the three-node cluster (`--cluster`). */
  readonly kafka: 'single' | 'cluster';
  /**
   * Kafka faults among the faults (each costs seconds of broker start-up): whole-broker restarts
   * on the single broker; on the cluster, leader kills, broker freezes and rolling restarts.
   */
  readonly kafkaFaults: number;
  /**
   * Real PostgreSQL server restarts among the faults (stop -m fast, then start). Only the long
   * profile has any: other work on the machine shares that server.
   */
  readonly pgRestarts: number;
  readonly relayLeaseMs: number;
  readonly relayPollIntervalMs: number;
  readonly relayBatchSize: number;
  readonly consumerSessionTimeoutMs: number;
  readonly consumerHeartbeatIntervalMs: number;
  readonly consumerConcurrency: number;
  /** Longest wait, after the schedule, for everything to be published and handled. */
  readonly drainTimeoutMs: number;
}

const base = {
  producerConcurrency: 4,
  maxMessagesPerTransaction: 5,
  rollbackRate: 0.1,
  topics: 2,
  partitions: 6,
  relayLeaseMs: 3_000,
  relayPollIntervalMs: 250,
  relayBatchSize: 200,
  consumerSessionTimeoutMs: 8_000,
  consumerHeartbeatIntervalMs: 500,
  consumerConcurrency: 8,
} as const;

/** Profiles by name: `short` is `pnpm chaos`, `long` is `pnpm chaos --long`, `ci` runs inside vitest, `smoke` is a quick look. */
export const profiles = {
  short: {
    ...base,
    name: 'short',
    messages: 10_000,
    producers: 3,
    poison: 5,
    relays: 3,
    consumers: 3,
    extraConsumers: 2,
    keysPerTopic: 150,
    durationMs: 150_000,
    faults: 36,
    kafka: 'single',
    kafkaFaults: 2,
    pgRestarts: 0,
    drainTimeoutMs: 240_000,
  },
  ci: {
    ...base,
    name: 'ci',
    messages: 8_000,
    producers: 2,
    poison: 4,
    relays: 2,
    consumers: 2,
    extraConsumers: 2,
    keysPerTopic: 120,
    durationMs: 110_000,
    faults: 26,
    kafka: 'single',
    kafkaFaults: 2,
    pgRestarts: 0,
    drainTimeoutMs: 90_000,
  },
  /** A quick look at the whole machinery (every fault kind once), for working on the harness. */
  smoke: {
    ...base,
    name: 'smoke',
    messages: 1_500,
    producers: 2,
    poison: 2,
    relays: 2,
    consumers: 2,
    extraConsumers: 1,
    keysPerTopic: 40,
    durationMs: 45_000,
    faults: 10,
    kafka: 'single',
    kafkaFaults: 1,
    pgRestarts: 0,
    drainTimeoutMs: 90_000,
  },
  long: {
    ...base,
    name: 'long',
    messages: 120_000,
    producers: 3,
    poison: 20,
    relays: 3,
    consumers: 3,
    extraConsumers: 2,
    keysPerTopic: 1_000,
    durationMs: 1_200_000,
    faults: 320,
    kafka: 'single',
    kafkaFaults: 16,
    pgRestarts: 6,
    drainTimeoutMs: 600_000,
  },
} as const satisfies Record<string, ChaosProfile>;

/** A profile's name. */
export type ProfileName = keyof typeof profiles;

/**
 * What `--cluster` changes in each profile. Broker faults on the cluster take longer than a
 * single-broker restart (a rolling restart is three restarts, each followed by a wait for the
 * ISR to be whole again), so the cluster profiles run longer.
 */
const clusterOverrides: Readonly<Record<ProfileName, Partial<ChaosProfile>>> = {
  short: { durationMs: 180_000, kafkaFaults: 5 },
  ci: { durationMs: 150_000, kafkaFaults: 4 },
  // Enough time for two leader kills, two freezes and a rolling restart while producers write.
  smoke: { messages: 4_000, durationMs: 150_000, faults: 16, kafkaFaults: 5, drainTimeoutMs: 120_000 },
  // At least 200,000 messages and 100 faults: the bar of the three-broker long run.
  long: { messages: 200_000, durationMs: 1_500_000, faults: 320, kafkaFaults: 24, drainTimeoutMs: 900_000 },
};

/** The profile run against the three-node cluster (`pnpm chaos --cluster`). */
export function clusterProfile(name: ProfileName): ChaosProfile {
  return { ...profiles[name], ...clusterOverrides[name], name: `${name}-cluster`, kafka: 'cluster' };
}

/**
 * Why `profile` cannot run on `database`, or undefined when it can. The `restart-pg` fault
 * restarts the PostgreSQL server for real; on MariaDB the run has no server of its own to
 * restart (the machine's one serves everything else), so a profile with server restarts is
 * refused there rather than run without them.
 */
export function unsupportedOn(profile: ChaosProfile, database: 'postgres' | 'mariadb'): string | undefined {
  if (database !== 'mariadb' || profile.pgRestarts === 0) return undefined;
  return (
    `profile ${profile.name} restarts the database server ${profile.pgRestarts} times (restart-pg), which the chaos run does on PostgreSQL only; ` +
    'on MariaDB use the short, ci or smoke profile, without --pg-restarts'
  );
}
