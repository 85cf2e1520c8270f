import type { Tables } from '@onceflow/core';
import type { Knex } from 'knex';
import { pgJson, pgText } from '../pg-text.ts';

/** A message being dead-lettered. */
export interface DeadLetterRow {
  consumer: string;
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  /** The topic in topic scope, '' in consumer scope (see DedupScope). */
  scope: string;
  dedupKey: string | null;
  headers: Readonly<Record<string, string>>;
  /** The key's bytes, for replay. */
  rawKey: Buffer | null;
  /** Every header as bytes (encodeRawHeaders), for replay. */
  rawHeaders: Buffer;
  value: Buffer | null;
  errors: readonly unknown[];
  attempts: number;
}

/**
 * Dead-letters a message. A redelivered copy of a record already dead-lettered (same consumer, topic,
 * partition and offset; e.g. after a crash before the offset commit), or another copy of a
 * dead-lettered message (same consumer, scope and dedup key), is not stored twice.
 * Returns the dead letter's id, or null when it was dead-lettered before.
 */
export async function insertDeadLetter(db: Knex | Knex.Transaction, tables: Tables, row: DeadLetterRow): Promise<string | null> {
  const result = await db.raw(
    `insert into ${tables.deadLetters} (consumer, topic, partition, "offset", key, scope, dedup_key, headers, raw_key, raw_headers, value, errors, attempts)
     values (?, ?, ?, ?::bigint, ?, ?, ?, ?::jsonb, ?::bytea, ?::bytea, ?, ?::jsonb, ?)
     on conflict do nothing
     returning id`,
    [
      row.consumer,
      row.topic,
      row.partition,
      row.offset,
      pgText(row.key),
      row.scope,
      pgText(row.dedupKey),
      JSON.stringify(pgJson(row.headers)),
      row.rawKey,
      row.rawHeaders,
      row.value,
      JSON.stringify(pgJson(row.errors)),
      row.attempts,
    ],
  );
  const first = (result.rows as Array<{ id: string }>)[0];
  return first === undefined ? null : String(first.id);
}
