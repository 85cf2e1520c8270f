import { isValidTopic, ValidationError } from '@onceflow/core';
import type { OutboxRow } from './sql/claim-batch.ts';

/**
 * Checks a row the producer did not write through `enqueue` (edited by hand, or by another
 * writer) before it reaches the broker. Returns a non-retriable ValidationError naming the
 * field, or undefined when the row can be published. Such a row is parked dead at once with
 * the reason, instead of being published in a form no consumer expects or stalling its shard.
 */
export function rowProblem(row: OutboxRow): ValidationError | undefined {
  const where = `outbox row ${row.id}`;
  if (!isValidTopic(row.topic)) return new ValidationError('topic', row.topic, `${where} names no valid Kafka topic`);
  if (typeof row.key !== 'string' || row.key.length === 0) return new ValidationError('key', row.key, `${where} has no key`);
  const headers: unknown = row.headers;
  if (headers === null || typeof headers !== 'object' || Array.isArray(headers)) {
    return new ValidationError('headers', headers, `${where} must hold a JSON object of string header values`);
  }
  for (const [name, value] of Object.entries(headers)) {
    if (typeof value !== 'string') return new ValidationError(`headers.${name}`, value, `${where} has a header value that is not a string`);
  }
  return undefined;
}
