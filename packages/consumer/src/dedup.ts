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

/** Longest dedup key accepted (the producer's limit for idempotency keys). */
export const MAX_DEDUP_KEY_LENGTH = 1024;

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
  if (key.length > MAX_DEDUP_KEY_LENGTH) {
    throw new DedupKeyError(describeRecord(message), `${source} gave a key of ${key.length} characters (at most ${MAX_DEDUP_KEY_LENGTH})`);
  }
  return key;
}
