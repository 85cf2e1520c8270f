import type { AttemptError } from '@onceflow/core';
import type { ConsumedMessage } from './consumed-message.ts';

/** Typed events of {@link InboxConsumer}, for hooks, metrics and tests. */
export interface InboxConsumerEvents {
  /**
   * A message's effect committed (emitted after the DB commit, before its offset commit).
   * `durationMs`: the transaction that committed it, handler included (shared by the messages
   * of one transaction).
   */
  'inbox:handled': { readonly message: ConsumedMessage; readonly dedupKey: string; readonly durationMs: number };
  /** A partition's batch of records arrived; `lastOffset` is the highest fetched offset. */
  'inbox:fetched': { readonly topic: string; readonly partition: number; readonly lastOffset: string; readonly count: number };
  /** A message was skipped: its dedup key was recorded before (by the DB or the Redis fast path). */
  'inbox:duplicate': { readonly message: ConsumedMessage; readonly dedupKey: string; readonly fastPath: boolean };
  /** An attempt failed and another follows after `delayMs`. */
  'inbox:retry': { readonly message: ConsumedMessage; readonly attempt: number; readonly error: unknown; readonly delayMs: number };
  /** A message was dead-lettered (null id: it had been dead-lettered before). */
  'inbox:dead': {
    readonly message: ConsumedMessage;
    readonly dedupKey: string | null;
    readonly attempts: number;
    readonly errors: readonly AttemptError[];
    readonly deadLetterId: string | null;
  };
  /** Side-effect mode: another holder has a live lease; this copy waits and tries again. */
  'inbox:busy': { readonly message: ConsumedMessage; readonly dedupKey: string; readonly retryInMs: number };
  /** Side-effect mode: the handler ran but its lease had been taken over; its `done` was refused. */
  'inbox:fenced': { readonly message: ConsumedMessage; readonly dedupKey: string };
  /** An offset was committed for a partition (the next offset to read). */
  'inbox:committed': { readonly topic: string; readonly partition: number; readonly offset: string };
  /**
   * A message was skipped because its type (`onceflow-type` header; null: none) is not among the
   * consumer's `types`: no inbox row, no handler call; its offset is committed as finished.
   */
  'inbox:filtered': { readonly message: ConsumedMessage; readonly type: string | null };
  /** A background problem (heartbeat, commit, dead-lettering); the consumer keeps running. */
  'inbox:error': { readonly error: unknown; readonly topic?: string; readonly partition?: number };
}

/** Counters of an {@link InboxConsumer} since it was created. */
export interface InboxConsumerStats {
  /** Messages whose effect committed. */
  handled: number;
  /** Copies skipped because their dedup key was recorded. */
  duplicates: number;
  /** Of the duplicates, those answered by the Redis fast path. */
  fastPathHits: number;
  /** Failed attempts followed by another attempt. */
  retried: number;
  /** Messages dead-lettered. */
  deadLettered: number;
  /** Messages skipped because their type is not among the consumer's `types`. */
  filtered: number;
  /** Side-effect copies that met a live lease and waited. */
  busy: number;
  /** Side-effect runs whose `done` was refused by the fencing token. */
  fenced: number;
  /** Messages left unfinished because their partition was revoked or the consumer stopped. */
  abandoned: number;
  /** Offset commits made. */
  commits: number;
  /** Partition batches received. */
  batches: number;
}

/** Zeroed counters. */
export function emptyStats(): InboxConsumerStats {
  return {
    handled: 0,
    duplicates: 0,
    fastPathHits: 0,
    retried: 0,
    deadLettered: 0,
    filtered: 0,
    busy: 0,
    fenced: 0,
    abandoned: 0,
    commits: 0,
    batches: 0,
  };
}
