import type { Tables } from '@onceflow/core';
import type { Knex } from 'knex';

/** A dead letter as stored. */
export interface StoredDeadLetter {
  id: string;
  consumer: string;
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  dedup_key: string | null;
  headers: Record<string, string>;
  /** Null for rows stored before schema version 6 (and records without a key). */
  raw_key: Buffer | null;
  /** Null for rows stored before schema version 6. */
  raw_headers: Buffer | null;
  value: Buffer | null;
  errors: unknown[];
  attempts: number;
  created_at: Date;
  replayed_at: Date | null;
}

/** Filter of {@link selectDeadLetters}. */
export interface DeadLetterFilter {
  consumer: string | null;
  ids: string[] | null;
  afterId: string;
  limit: number;
  includeReplayed: boolean;
}

/**
 * Lists dead letters oldest first, by id (keyset pagination with `afterId`). The order names the
 * table's column: a bare `order by id` would sort by the output column `id::text`, as text
 * ("10" before "9"), and a page would skip the rows whose ids sort after its last one as text.
 */
export async function selectDeadLetters(db: Knex | Knex.Transaction, tables: Tables, f: DeadLetterFilter): Promise<StoredDeadLetter[]> {
  const result = await db.raw(
    `select d.id::text as id, consumer, topic, partition, "offset"::text as "offset", key, dedup_key, headers, raw_key, raw_headers, value, errors, attempts,
            created_at, replayed_at
     from ${tables.deadLetters} d
     where d.id > ?::bigint
       and (?::text is null or consumer = ?::text)
       and (?::bigint[] is null or d.id = any(?::bigint[]))
       and (?::boolean or replayed_at is null)
     order by d.id
     limit ?`,
    [f.afterId, f.consumer, f.consumer, f.ids, f.ids, f.includeReplayed, f.limit],
  );
  return result.rows as StoredDeadLetter[];
}
