import type { Tables } from '@onceflow/core';
import type { Knex } from 'knex';

/** The last-resort dead letter: only values the record cannot make PostgreSQL refuse. */
export interface RawDeadLetterRow {
  consumer: string;
  topic: string;
  partition: number;
  offset: string;
  /** ASCII only (base64 and names), so jsonb always takes it. */
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
 * Dead-letters a record whose full dead letter PostgreSQL refused. No key and no dedup key: nothing
 * of the record goes into an index or a text column (its key and headers go as bytes), so the only conflict left is the record's
 * own (consumer, topic, partition, offset), which means it was dead-lettered before.
 * Returns the dead letter's id, or null when it was dead-lettered before.
 */
export async function insertRawDeadLetter(db: Knex, tables: Tables, row: RawDeadLetterRow): Promise<string | null> {
  const result = await db.raw(
    `insert into ${tables.deadLetters} (consumer, topic, partition, "offset", key, dedup_key, headers, raw_key, raw_headers, value, errors, attempts)
     values (?, ?, ?, ?::bigint, null, null, ?::jsonb, ?::bytea, ?::bytea, ?, ?::jsonb, ?)
     on conflict do nothing
     returning id`,
    [
      row.consumer,
      row.topic,
      row.partition,
      row.offset,
      JSON.stringify(row.headers),
      row.rawKey,
      row.rawHeaders,
      row.value,
      JSON.stringify(row.errors),
      row.attempts,
    ],
  );
  const first = (result.rows as Array<{ id: string }>)[0];
  return first === undefined ? null : String(first.id);
}
