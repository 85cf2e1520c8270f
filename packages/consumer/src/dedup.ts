import { HeaderNames } from '@onceflow/core';
import type { ConsumedMessage } from './consumed-message.ts';
import { describeRecord } from './consumed-message.ts';
import { DedupKeyError } from './errors.ts';

/**
 * How a consumer derives a message's dedup key: the `onceflow-idempotency-key` header (the
 * business event identity), the `onceflow-id` header (the outbox message id), or any function
 * of the message (for records published by other systems).
 */
export type DedupMode = 'idempotencyKey' | 'id' | ((message: ConsumedMessage) => string | undefined);

/**
 * Longest dedup key accepted, in UTF-8 bytes (the producer's limit for idempotency keys).
 *
 * The key goes into two unique indexes (the inbox's and dead_letters'), and a btree entry
 * above about 2,700 bytes is refused by PostgreSQL (54000), which would make a record both
 * unhandleable and impossible to dead-letter. Bounding in bytes rather than hashing long keys: the key stays
 * what the producer wrote, so an operator can find it in the inbox and in dead letters; there
 * is no hash to reason about when two keys meet; and every key Onceflow's producer lets
 * through fits. 1,024 bytes of key plus a consumer name (at most 200 characters) and a topic
 * (at most 249 ASCII characters) stays under that limit even uncompressed. A record with a
 * longer key is dead-lettered with its reason; a dedup function can hash such keys itself.
 */
export const MAX_DEDUP_KEY_BYTES = 1024;

/** Derives the dedup key of `message`; throws {@link DedupKeyError} (not retriable) when none. */
export function dedupKeyOf(message: ConsumedMessage, mode: DedupMode): string {
  let key: string | undefined;
  let source: string;
  if (mode === 'idempotencyKey') {
    key = message.idempotencyKey;
    source = `header ${HeaderNames.idempotencyKey}`;
  } else if (mode === 'id') {
    key = message.id;
    source = `header ${HeaderNames.id}`;
  } else {
    source = 'the dedup function';
    try {
      key = mode(message);
    } catch (error) {
      throw new DedupKeyError(describeRecord(message), 'the dedup function threw', { cause: error });
    }
  }
  if (typeof key !== 'string' || key.length === 0) {
    throw new DedupKeyError(
      describeRecord(message),
      `${source} gave ${key === undefined ? 'nothing' : JSON.stringify(key)}. Records published outside Onceflow lack ${HeaderNames.idempotencyKey}: configure dedup 'id' (header ${HeaderNames.id}) or a function of the message`,
    );
  }
  if (key.includes('\u0000')) {
    throw new DedupKeyError(describeRecord(message), `${source} gave a key containing a NUL character, which the inbox cannot store`);
  }
  if (!key.isWellFormed()) {
    // The database would store U+FFFD in its place, so two different keys could meet as one.
    throw new DedupKeyError(
      describeRecord(message),
      `${source} gave a key containing a lone UTF-16 surrogate, which the inbox cannot store`,
    );
  }
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes > MAX_DEDUP_KEY_BYTES) {
    throw new DedupKeyError(
      describeRecord(message),
      `${source} gave a key of ${bytes} UTF-8 bytes (${key.length} characters); at most ${MAX_DEDUP_KEY_BYTES} bytes fit the inbox index. Configure a dedup function that hashes long keys`,
    );
  }
  return key;
}

/**
 * Where a dedup key must be unique. `'topic'` (the default): a message's identity is
 * (topic, dedup key), as in the outbox, so the same idempotency key on `orders.paid` and
 * `orders.refunded` is two messages, and a record on one subscribed topic cannot suppress a
 * message on another. `'consumer'`: one dedup space across all the consumer's topics, for
 * dedup keys that are unique across topics by construction (e.g. a dedup function over a
 * global business id) and where a message may arrive on two topics but must apply once.
 */
export type DedupScope = 'topic' | 'consumer';

/** The inbox `scope` of `message`: its topic in topic scope, '' in consumer scope. */
export function dedupScopeOf(message: Pick<ConsumedMessage, 'topic'>, scope: DedupScope): string {
  return scope === 'topic' ? message.topic : '';
}

/**
 * The key a string-keyed store (a side-effect lease store, the Redis fast path) files a
 * message under: the dedup key alone in consumer scope, else prefixed by the topic's UTF-8
 * length and the topic, so no (topic, key) pair can spell another.
 */
export function scopedStoreKey(scope: string, dedupKey: string): string {
  return scope === '' ? dedupKey : `${Buffer.byteLength(scope, 'utf8')}:${scope}:${dedupKey}`;
}
