/** A record header as Kafka carries it: a name and its value's bytes (or null). Names may repeat. */
export type RawHeader = readonly [name: string, value: Buffer | null];

/** The bytes of a record exactly as they were consumed, for a faithful replay. */
export interface RawRecordParts {
  readonly key: Buffer;
  /** Null for a tombstone. */
  readonly value: Buffer | null;
  /** Every header in order, repeats included. */
  readonly headers: readonly RawHeader[];
}

/** A record as handed to a {@link Publisher}. */
export interface OutgoingRecord {
  readonly topic: string;
  /** The business key; the transport maps it to a partition with the Java-compatible partitioner. */
  readonly key: string;
  readonly value: Buffer;
  readonly headers: Readonly<Record<string, string>>;
  /**
   * When set, the transport sends these bytes instead of `key`, `value` and `headers` (which
   * then only name the record in logs): a replayed record keeps a binary key (and so its
   * partition), a null value and repeated headers.
   */
  readonly raw?: RawRecordParts;
}

/**
 * Publishes records to a broker. `publish` resolves only when the broker has acknowledged
 * every record durably (acks from all in-sync replicas), and keeps the order of records that
 * share a topic and key. It rejects with an error whose `retriable` flag says whether trying
 * again may help.
 */
export interface Publisher {
  connect(): Promise<void>;
  publish(records: readonly OutgoingRecord[]): Promise<void>;
  disconnect(): Promise<void>;
  /**
   * Optional readiness probe: resolves when the broker answers now, rejects when it cannot be
   * reached. A relay's `/readyz` uses it; publishers without it are taken as ready.
   */
  check?(): Promise<void>;
  /**
   * Optional: what the cluster says about `topics` (those that exist). The relay reads the
   * record size limit from it and checks the replication of the topics it publishes to.
   */
  describeTopics?(topics: readonly string[]): Promise<TopicFacts[]>;
}

/** What the cluster says about one topic. */
export interface TopicFacts {
  readonly topic: string;
  /** The fewest replicas any of its partitions has. */
  readonly replicationFactor: number;
  /** The topic's `min.insync.replicas` (NaN when it could not be read). */
  readonly minInsyncReplicas: number;
  /** The topic's `max.message.bytes`: the largest record batch the broker accepts (NaN when unknown). */
  readonly maxMessageBytes: number;
}

/** A record as a transport delivers it to a consumer. */
export interface IncomingRecord {
  readonly topic: string;
  readonly partition: number;
  /** Kafka offset as a decimal string. */
  readonly offset: string;
  readonly key: string | null;
  readonly value: Buffer | null;
  readonly headers: Readonly<Record<string, string>>;
  /** The key's bytes as delivered, where the transport can tell (`key` is their UTF-8 decoding). */
  readonly rawKey?: Buffer | null;
  /** Every header as delivered, in order, repeats included, where the transport can tell. */
  readonly rawHeaders?: readonly RawHeader[];
  /** Broker timestamp, milliseconds since the epoch, as a decimal string. */
  readonly timestamp: string;
}

/** A batch of records from one partition, in offset order. */
export interface PartitionBatch {
  readonly topic: string;
  readonly partition: number;
  readonly records: readonly IncomingRecord[];
  /**
   * Marks every record up to `offset` as done, so the next fetch starts after it. Records not
   * resolved when the batch handler returns are fetched again.
   */
  resolve(offset: string): void;
  /**
   * Commits `nextOffset` (last handled + 1) for this partition to the group, unless the
   * partition was revoked meanwhile. Resolves false when nothing was committed.
   */
  commit(nextOffset: string): Promise<boolean>;
  /** Keeps the group membership alive during long work. */
  heartbeat(): Promise<void>;
  /** False once the partition was revoked or the subscriber is stopping: stop taking work. */
  isActive(): boolean;
}

/**
 * Where a consumer group reads a partition it has no committed offset for: the earliest offset
 * the broker still keeps, the latest (only records written from then on), or the first offset
 * at or after a time.
 */
export type StartFrom = 'earliest' | 'latest' | Date;

/** What a subscriber knows, before it joins, about where its group will start reading. */
export interface StartPosition {
  /** The consumer group. */
  readonly groupId: string;
  /** The topics it reads. */
  readonly topics: readonly string[];
  /** True when the group has a committed offset in some partition of `topics`: it resumes there. */
  readonly committed: boolean;
  /** The start the user chose for a group without committed offsets; undefined when left to the default. */
  readonly chosen: StartFrom | undefined;
}

/** Delivers partition batches of the subscribed topics to one handler. */
export interface Subscriber {
  /** Joins the group and starts calling `onBatch`; returns once running. */
  start(onBatch: (batch: PartitionBatch) => Promise<void>): Promise<void>;
  /** Stops fetching, waits for running batch handlers, leaves the group. */
  stop(): Promise<void>;
  /** Optional: what the cluster says about `topics` (those that exist), as {@link Publisher.describeTopics}. */
  describeTopics?(topics: readonly string[]): Promise<TopicFacts[]>;
  /** Optional: the topics it reads, for the consumer's start-up checks. */
  readonly topics?: readonly string[];
  /**
   * Optional: whether the group has committed offsets and which start the user chose, read
   * before `start`. A consumer refuses to start a new group, with no start chosen, over an inbox
   * that has history, rather than re-apply messages whose inbox rows are gone.
   */
  startPosition?(): Promise<StartPosition>;
}
