import { fnv1a32 } from '@onceflow/core';
import type { Item } from './run-context.ts';

/**
 * Splits items (in offset order) into at most `count` lists so that every item of one key
 * lands in the same list, in its original order. Lists run in parallel; each runs its items
 * one after another, which is what keeps per-key order. Items without a key carry no order
 * promise and are spread round robin.
 */
export function splitByKey<T>(items: readonly T[], keyOf: (item: T) => string | null, count: number): T[][] {
  const out: T[][] = Array.from({ length: Math.max(1, count) }, () => []);
  let spread = 0;
  for (const item of items) {
    const key = keyOf(item);
    const at = key === null ? spread++ % out.length : fnv1a32(key) % out.length;
    (out[at] as T[]).push(item);
  }
  return out.filter((l) => l.length > 0);
}

/**
 * The next piece of work at the front of a {@link KeyQueue}: a message without a dedup key to
 * dead-letter at once, or an attempt of a group of messages in one transaction (`failures`
 * empty) or of one message alone with its attempt history.
 */
export type WorkUnit =
  | { readonly kind: 'dead-letter'; readonly item: Item }
  | { readonly kind: 'attempt'; readonly items: readonly Item[]; readonly failures: readonly unknown[] };

interface Entry {
  readonly item: Item;
  /** Set once the message must run alone: the failures it had so far. */
  alone: readonly unknown[] | undefined;
}

/** How a {@link KeyQueue} forms its work units. */
export interface KeyQueueShape {
  /** Most messages in one group. */
  readonly groupSize: number;
  /** Whether {@link KeyQueue.splitOff} moves other keys to a queue of their own. */
  readonly splitOnWait: boolean;
}

/**
 * The messages of some keys of one partition batch, in offset order, worked one unit at a time
 * from the front: that is what keeps each key in order. A message whose group failed is marked
 * to run alone; while the front message waits for its retry, the messages of other keys behind
 * it can be split off into a queue of their own, so a waiting message holds back only its key.
 */
export class KeyQueue {
  #entries: Entry[];
  readonly #shape: KeyQueueShape;

  constructor(items: readonly Item[], shape: KeyQueueShape) {
    this.#entries = items.map((item) => ({ item, alone: undefined }));
    this.#shape = shape;
  }

  /** Messages not finished yet. */
  get size(): number {
    return this.#entries.length;
  }

  /**
   * The unit at the front: consecutive messages with dedup keys, up to the group size, stopping
   * before a message that must run alone or has no dedup key. Undefined once the queue is empty.
   */
  next(): WorkUnit | undefined {
    const front = this.#entries[0];
    if (front === undefined) return undefined;
    if (front.item.dedupKey === undefined) return { kind: 'dead-letter', item: front.item };
    if (front.alone !== undefined || this.#shape.groupSize === 1)
      return { kind: 'attempt', items: [front.item], failures: front.alone ?? [] };
    const limit = Math.min(this.#shape.groupSize, this.#entries.length);
    let end = 1;
    while (end < limit) {
      const entry = this.#entries[end] as Entry;
      if (entry.item.dedupKey === undefined || entry.alone !== undefined) break;
      end++;
    }
    return { kind: 'attempt', items: this.#entries.slice(0, end).map((e) => e.item), failures: [] };
  }

  /** The first `count` messages are finished. */
  complete(count: number): void {
    this.#entries.splice(0, count);
  }

  /** The message at `index` runs alone from now on, with `failures` as its history. */
  isolate(index: number, failures: readonly unknown[]): void {
    const entry = this.#entries[index];
    if (entry !== undefined) entry.alone = failures;
  }

  /** The first `count` messages each run alone from now on, with fresh attempts. */
  isolateEach(count: number): void {
    for (const entry of this.#entries.slice(0, count)) entry.alone ??= [];
  }

  /**
   * The front unit (its first `waiting` messages) is about to wait for its retry: the later
   * messages of other keys move to a new queue (returned), so they go on while only the
   * waiting keys hold back. Undefined when nothing moves, or when this queue's shape keeps
   * everything waiting.
   */
  splitOff(waiting = 1): KeyQueue | undefined {
    if (!this.#shape.splitOnWait) return undefined;
    const stay = this.#entries.slice(0, waiting);
    const keys = new Set(stay.map((e) => e.item.message.key));
    const moved: Entry[] = [];
    // A message without a Kafka key carries no order promise: nothing needs to wait behind it.
    for (const entry of this.#entries.slice(waiting))
      (entry.item.message.key !== null && keys.has(entry.item.message.key) ? stay : moved).push(entry);
    if (moved.length === 0) return undefined;
    this.#entries = stay;
    const queue = new KeyQueue([], this.#shape);
    queue.#entries = moved;
    return queue;
  }
}
