import type { Logger, RetryPolicy, TypedEmitter } from '@onceflow/core';
import type { ConsumedMessage } from './consumed-message.ts';
import type { InboxConsumerEvents, InboxConsumerStats } from './consumer-events.ts';

/** A message with its dedup key, or the reason it has none. */
export interface Item {
  readonly message: ConsumedMessage;
  readonly dedupKey: string | undefined;
  readonly keyError: unknown;
}

/** What one attempt decided for a message: its effect committed now, had committed before, or was fenced off. */
export type Outcome = 'handled' | 'duplicate' | 'fenced';

/**
 * How one attempt of a work unit ended. `failed.isolate` says what runs next when a unit of
 * several messages fails: the message at that index alone (its handler threw; the ones before
 * it may group again), `'each'` message alone with fresh attempts (the failure names none), or
 * `'none'`: the unit is retried as a whole. A unit of one message keeps its attempt history.
 */
export type AttemptResult =
  | { readonly kind: 'done'; readonly outcomes: readonly Outcome[]; readonly fastPathHits: ReadonlySet<number> }
  | { readonly kind: 'failed'; readonly error: unknown; readonly isolate: number | 'each' | 'none' }
  /** Side-effect mode: another holder has a live lease; wait `retryInMs`, then try again (not an attempt). */
  | { readonly kind: 'busy'; readonly retryInMs: number };

/** How a strategy lays out one partition batch. */
export interface QueueLayout {
  /** Messages in offset order, split into queues that run side by side; each key in one queue. */
  readonly queues: readonly (readonly Item[])[];
  /** Most messages of one queue that share a transaction. */
  readonly groupSize: number;
  /**
   * Whether a message waiting for its retry sends the other keys behind it on in a queue of
   * their own (true), or holds back its whole queue (false).
   */
  readonly splitOnWait: boolean;
}

/**
 * What a consumer mode does with messages: transactional, batch or side-effect. Chosen once
 * per consumer; a partition run only lays out queues and runs attempts through it.
 */
export interface ConsumerStrategy {
  /** The mode's name, for logs. */
  readonly mode: 'transactional' | 'batch' | 'side-effect';
  /** Lays a batch's messages (in offset order) out into queues, using up to `concurrency` of them. */
  layout(items: readonly Item[], concurrency: number): QueueLayout;
  /**
   * One attempt of `items` (all with dedup keys): one database transaction, or one lease run.
   * Handler and database failures are returned, not thrown.
   */
  attempt(items: readonly Item[]): Promise<AttemptResult>;
}

/**
 * Dead-letters one message with its error history (`attempts` 0: it was never attempted).
 * Resolves false when it could not be stored; the message then stays unfinished and is
 * fetched again.
 */
export type DeadLetterSink = (item: Item, errors: readonly unknown[], attempts: number) => Promise<boolean>;

/** What a partition run needs from its {@link InboxConsumer}. */
export interface RunContext {
  readonly strategy: ConsumerStrategy;
  /** Decides on retries and waits between attempts (and during busy waits). */
  readonly policy: RetryPolicy;
  /** The dedup key of a message; throws when none can be derived. */
  readonly dedupKeyOf: (message: ConsumedMessage) => string;
  readonly deadLetter: DeadLetterSink;
  /** Most transactions of one batch at once. */
  readonly concurrency: number;
  readonly heartbeatIntervalMs: number;
  /** Message types to handle; undefined: every message. */
  readonly types: ReadonlySet<string> | undefined;
  readonly events: TypedEmitter<InboxConsumerEvents>;
  readonly stats: InboxConsumerStats;
  readonly logger: Logger;
  /** Aborted when the consumer stops: take no new work, finish what runs, commit. */
  readonly stopping: AbortSignal;
}
