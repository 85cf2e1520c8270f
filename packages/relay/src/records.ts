import type { OutgoingRecord } from '@onceflow/core';
import { HeaderNames } from '@onceflow/core';
import type { OutboxRow } from './sql/claim-batch.ts';

/**
 * The Kafka record of an outbox row: key = business key, value = payload bytes, the caller's
 * headers plus Onceflow's (id, idempotency key, type, creation time as ISO 8601), which win
 * over a caller header of the same name.
 */
export function toRecord(row: OutboxRow): OutgoingRecord {
  const headers: Record<string, string> = { ...row.headers };
  headers[HeaderNames.id] = row.id;
  headers[HeaderNames.idempotencyKey] = row.idempotency_key;
  if (row.type !== null) headers[HeaderNames.type] = row.type;
  headers[HeaderNames.createdAt] = row.created_at;
  return { topic: row.topic, key: row.key, value: row.payload, headers };
}
