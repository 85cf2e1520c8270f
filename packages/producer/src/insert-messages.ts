import type { Tables } from '@onceflow/core';
import type { Knex } from 'knex';

/** One row for {@link insertMessages}; arrays are columns so one statement inserts any number. */
export interface MessageColumns {
  ids: string[];
  topics: string[];
  keys: string[];
  shards: number[];
  idempotencyKeys: string[];
  types: (string | null)[];
  payloads: string[];
  headers: string[];
  availableAt: (string | null)[];
}

/** A row the insert created. */
export interface InsertedRow {
  id: string;
  seq: string;
}

/**
 * Inserts many outbox rows in one statement. Rows whose `(topic, idempotency_key)` exists
 * already are skipped (ON CONFLICT DO NOTHING) and simply absent from the result. `seq` is
 * drawn in array order, which is the order the caller enqueued.
 */
export async function insertMessages(trx: Knex.Transaction, tables: Tables, c: MessageColumns): Promise<InsertedRow[]> {
  const result = await trx.raw(
    `insert into ${tables.outbox} (id, topic, key, shard, idempotency_key, type, payload, headers, available_at)
     select r.id, r.topic, r.key, r.shard, r.idempotency_key, r.type, decode(r.payload, 'base64'), r.headers, coalesce(r.available_at, now())
     from unnest(?::uuid[], ?::text[], ?::text[], ?::smallint[], ?::text[], ?::text[], ?::text[], ?::jsonb[], ?::timestamptz[])
       with ordinality as r(id, topic, key, shard, idempotency_key, type, payload, headers, available_at, n)
     order by r.n
     on conflict (topic, idempotency_key) do nothing
     returning id, seq`,
    [c.ids, c.topics, c.keys, c.shards, c.idempotencyKeys, c.types as string[], c.payloads, c.headers, c.availableAt as string[]],
  );
  return result.rows as InsertedRow[];
}
