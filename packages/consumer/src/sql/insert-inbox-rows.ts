import type { Tables } from '@onceflow/core';
import { prepared } from '@onceflow/core';
import type { Knex } from 'knex';
import { pgText } from '../pg-text.ts';

/** Columns of the inbox rows to insert; arrays so one statement inserts any number. */
export interface InboxRowColumns {
  dedupKeys: string[];
  messageIds: (string | null)[];
  topics: string[];
  partitions: number[];
  offsets: string[];
}

/**
 * Inserts `done` inbox rows for `consumer` and returns the dedup keys that were new. A key
 * already committed is skipped (ON CONFLICT DO NOTHING). A key inserted by another transaction
 * that has not finished makes this statement wait on the unique index until that transaction
 * ends: committed means skipped here, rolled back means inserted here. That wait is what stops
 * two copies of one message from ever running side by side. Rows go in dedup-key order so two
 * overlapping statements take their index locks in one order and cannot deadlock each other.
 */
export async function insertInboxRows(trx: Knex.Transaction, tables: Tables, consumer: string, c: InboxRowColumns): Promise<string[]> {
  const result = await prepared(
    trx,
    `insert into ${tables.inbox} (consumer, dedup_key, message_id, topic, partition, "offset")
     select ?, r.dedup_key, r.message_id, r.topic, r.partition, r.offset
     from unnest(?::text[], ?::text[], ?::text[], ?::integer[], ?::bigint[]) as r(dedup_key, message_id, topic, partition, "offset")
     order by r.dedup_key
     on conflict (consumer, dedup_key) do nothing
     returning dedup_key`,
    [consumer, c.dedupKeys, c.messageIds.map(pgText) as string[], c.topics, c.partitions, c.offsets],
  );
  return (result.rows as Array<{ dedup_key: string }>).map((r) => r.dedup_key);
}
