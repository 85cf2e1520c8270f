/** Payloads of the events a {@link Relay} emits, by name. */
export interface RelayEvents {
  /**
   * A batch reached the broker and was marked published: `count` messages, of which `topics`
   * gives each topic's share, in `durationMs` from claim to mark. `sinceEnqueueMs` holds each
   * message's time from its producer transaction (the outbox row's `created_at`) to now.
   */
  'relay:batch:published': {
    shards: number[];
    count: number;
    durationMs: number;
    topics: Readonly<Record<string, number>>;
    sinceEnqueueMs: readonly number[];
  };
  /**
   * A publish failed and will be tried again: one message after a record-level failure
   * (`scope: 'record'`, counted as an attempt), or a batch of some shards while the broker is
   * unavailable (`scope: 'broker'`, never counted against any message).
   */
  'relay:retry':
    | {
        scope: 'record';
        id: string;
        topic: string;
        key: string;
        attempt: number;
        nextAttemptAt: Date;
        error: unknown;
      }
    | { scope: 'broker'; shards: number[]; attempt: number; delayMs: number; error: unknown };
  /** A message was parked after its last attempt or a non-retriable failure. */
  'relay:dead': { id: string; topic: string; key: string; attempts: number; error: unknown };
  /** This relay took a shard's lease. */
  'relay:lease:gained': { shard: number; fencingToken: string };
  /**
   * This relay no longer holds a shard: `released` (stop or hand-over) or `taken` (its lease
   * lapsed and another relay claimed it; found at renewal or by a fenced write).
   */
  'relay:lease:lost': { shard: number; fencingToken: string; reason: 'released' | 'taken' };
  /**
   * The lanes in use changed: all `concurrency` of them once a batch came back full (a
   * backlog), one again after a quiet time. `active` is the new number.
   */
  'relay:lanes': { active: number };
  /** A background loop failed; it carries on (with backoff) after reporting. */
  'relay:error': { error: unknown; during: string };
}

/** Counters of one relay since it started. */
export interface RelayStats {
  /** Messages published and marked. */
  published: number;
  /** Batches published. */
  batches: number;
  /** Record-level failures retried later. */
  retried: number;
  /** Messages parked as dead. */
  dead: number;
  /** Publish attempts that failed because the broker was unavailable. */
  brokerFailures: number;
  /** Lanes in use now: one at a steady rate, up to `concurrency` while a backlog fills batches. */
  activeLanes: number;
  /** Shards this relay holds now. */
  shards: number[];
  /** Pending messages in this relay's shards at the last lease tick. */
  backlog: number;
  /** Age of the oldest due message in this relay's shards at the last lease tick, in ms. */
  oldestPendingAgeMs: number | null;
}
