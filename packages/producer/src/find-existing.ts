import type { Tables } from '@onceflow/core';
import type { Knex } from 'knex';

/** A stored message found by its `(topic, idempotency_key)`. */
export interface ExistingRow {
  id: string;
  seq: string;
  topic: string;
  idempotency_key: string;
}

/** Looks up stored messages by `(topic, idempotency_key)` pairs (the duplicates of an enqueue). */
export async function findExisting(
  trx: Knex.Transaction,
  tables: Tables,
  topics: string[],
  idempotencyKeys: string[],
): Promise<ExistingRow[]> {
  const result = await trx.raw(
    `select o.id, o.seq, o.topic, o.idempotency_key
     from unnest(?::text[], ?::text[]) as k(topic, idempotency_key)
     join ${tables.outbox} o on o.topic = k.topic and o.idempotency_key = k.idempotency_key`,
    [topics, idempotencyKeys],
  );
  return result.rows as ExistingRow[];
}
