import type { PublishErrorScope } from '@onceflow/core';
import { PublishError } from '@onceflow/core';

/** Broker answers that no retry can fix: the record or the request itself is wrong. */
const FATAL_TYPES = new Set([
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_RECORD',
  'INVALID_TOPIC_EXCEPTION',
  'TOPIC_AUTHORIZATION_FAILED',
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
 * Broker answers that say the cluster (or a partition leader) is unavailable for now, not
 * that the records are wrong: every record would fail alike.
 */
const BROKER_TYPES = new Set([
  'LEADER_NOT_AVAILABLE',
  'NOT_LEADER_FOR_PARTITION',
  'NOT_LEADER_OR_FOLLOWER',
  'REQUEST_TIMED_OUT',
  'REPLICA_NOT_AVAILABLE',
  'NETWORK_EXCEPTION',
  'NOT_ENOUGH_REPLICAS',
  'NOT_ENOUGH_REPLICAS_AFTER_APPEND',
  'NOT_CONTROLLER',
  'KAFKA_STORAGE_ERROR',
  'BROKER_NOT_AVAILABLE',
  'FENCED_LEADER_EPOCH',
  'UNKNOWN_LEADER_EPOCH',
  'PREFERRED_LEADER_NOT_AVAILABLE',
  'ELIGIBLE_LEADERS_NOT_AVAILABLE',
  'OUT_OF_ORDER_SEQUENCE_NUMBER',
  'UNKNOWN_PRODUCER_ID',
  'INVALID_PRODUCER_EPOCH',
  'CONCURRENT_TRANSACTIONS',
  'THROTTLING_QUOTA_EXCEEDED',
  // Not in FATAL_TYPES: the client may not act on the cluster at all (an ACL such as
  // IdempotentWrite is missing), so every record fails alike and none is to blame. Sending the
  // same record again cannot fix it, but parking it would dead-letter the whole outbox for a
  // configuration fault; as a broker-wide failure the rows stay pending, uncharged, and go out
  // once an operator grants the permission.
  'CLUSTER_AUTHORIZATION_FAILED',
]);

/**
 * Plain errors (no KafkaJS name, no protocol type) that kafkajs throws about a broker's
 * state, not about the records: a send that reaches a broker whose connection was just lost
 * (during a broker restart) fails with "Broker not connected".
 */
const KAFKAJS_BROKER_MESSAGES = new Set(['Broker not connected']);

/**
 * Whether a kafkajs failure concerns the broker as a whole or the records sent. Only a
 * protocol error the broker returned for the records (and not one of {@link BROKER_TYPES})
 * blames the records; connection refused or closed, request timeouts, missing metadata and
 * kafkajs's "retries exceeded" over any of those are broker-wide.
 */
export function publishErrorScope(error: unknown): PublishErrorScope {
  const type = kafkaErrorType(error);
  if (type !== undefined) return BROKER_TYPES.has(type) ? 'broker' : 'record';
  // No protocol error: a kafkajs failure (connection, timeout, retries exhausted) is the
  // broker's; anything else (kafkajs refusing to encode a record) is the record's.
  return causes(error).some(isKafkajsBrokerError) ? 'broker' : 'record';
}

function isKafkajsBrokerError(error: unknown): boolean {
  return error instanceof Error && (error.name.startsWith('KafkaJS') || KAFKAJS_BROKER_MESSAGES.has(error.message));
}

/**
 * Wraps a kafkajs publish failure. It is retriable unless the broker named a fault in the
 * record or in our permissions on its topic: kafkajs's "retries exceeded" is retriable for us, since our
 * own backoff runs above kafkajs's.
 */
export function toPublishError(error: unknown, topic?: string): PublishError {
  const type = kafkaErrorType(error);
  const retriable = type === undefined || !FATAL_TYPES.has(type);
  const message = error instanceof Error ? error.message : String(error);
  return new PublishError(`Publishing to Kafka failed${type === undefined ? '' : ` (${type})`}: ${message}`, {
    cause: error,
    retriable,
    scope: publishErrorScope(error),
    ...(topic === undefined ? {} : { topic }),
  });
}
