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
  /** Kafka restarts among them (each costs several seconds of broker start-up). */
  readonly kafkaRestarts: number;
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
    kafkaRestarts: 2,
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
    kafkaRestarts: 2,
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
    kafkaRestarts: 1,
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
    kafkaRestarts: 16,
    drainTimeoutMs: 600_000,
  },
} as const satisfies Record<string, ChaosProfile>;

/** A profile's name. */
export type ProfileName = keyof typeof profiles;
