import { PublishError } from '@onceflow/core';

/** Broker answers that no retry can fix: the record or the request itself is wrong. */
const FATAL_TYPES = new Set([
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_RECORD',
  'INVALID_TOPIC_EXCEPTION',
  'TOPIC_AUTHORIZATION_FAILED',
  'CLUSTER_AUTHORIZATION_FAILED',
  'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
  'UNSUPPORTED_FOR_MESSAGE_FORMAT',
  'INVALID_REQUIRED_ACKS',
  'POLICY_VIOLATION',
]);

/** Every error in a kafkajs error's cause chain, outermost first. */
function causes(error: unknown): unknown[] {
  const chain: unknown[] = [];
  let current: unknown = error;
  while (current !== undefined && current !== null && chain.length < 10) {
    chain.push(current);
    const next = (current as { cause?: unknown; originalError?: unknown }).originalError ?? (current as { cause?: unknown }).cause;
    if (next === current) break;
    current = next;
  }
  return chain;
}

/** The kafkajs protocol error type (e.g. `MESSAGE_TOO_LARGE`) somewhere in the chain, if any. */
export function kafkaErrorType(error: unknown): string | undefined {
  for (const e of causes(error)) {
    const type = (e as { type?: unknown }).type;
    if (typeof type === 'string') return type;
  }
  return undefined;
}

/**
 * Wraps a kafkajs publish failure. It is retriable unless the broker named a fault in the
 * record or in our permissions: kafkajs's "retries exceeded" is retriable for us, since our
 * own backoff runs above kafkajs's.
 */
export function toPublishError(error: unknown, topic?: string): PublishError {
  const type = kafkaErrorType(error);
  const retriable = type === undefined || !FATAL_TYPES.has(type);
  const message = error instanceof Error ? error.message : String(error);
  return new PublishError(`Publishing to Kafka failed${type === undefined ? '' : ` (${type})`}: ${message}`, {
    cause: error,
    retriable,
    ...(topic === undefined ? {} : { topic }),
  });
}
