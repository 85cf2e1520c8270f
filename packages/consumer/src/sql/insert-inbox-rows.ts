import type { Tables } from '@onceflow/core';
import { prepared } from '@onceflow/core';
import type { Knex } from 'knex';
import { pgText } from '../pg-text.ts';

/** Columns of the inbox rows to insert; arrays so one statement inserts any number. */
export interface InboxRowColumns {
  /** The topic in topic scope, '' in consumer scope. */
  scopes: string[];
  dedupKeys: string[];
  messageIds: (string | null)[];
  topics: string[];
  partitions: number[];
  offsets: string[];
}

/**
 * Inserts `done` inbox rows for `consumer` and returns the (scope, dedup key) pairs that were
 * new. A key already committed is skipped (ON CONFLICT DO NOTHING). A key inserted by another
 * transaction that has not finished makes this statement wait on the unique index until that
 * transaction ends: committed means skipped here, rolled back means inserted here. That wait is
 * what stops two copies of one message from ever running side by side. Rows go in key order so
 * two overlapping statements take their index locks in one order and cannot deadlock.
 *
 * A row in a topic scope is also skipped when an unscoped `done` row of the same key exists
 * whose topic is the same or unknown: rows written before schema version 4 carry no scope, and
 * a message they recorded may be redelivered after the upgrade. Those rows are committed and
 * no longer written in topic scope, so reading them without the index wait is safe.
 */
export async function insertInboxRows(
  trx: Knex.Transaction,
  tables: Tables,
  consumer: string,
  c: InboxRowColumns,
): Promise<Array<{ scope: string; dedupKey: string }>> {
  const result = await prepared(
    trx,
    `insert into ${tables.inbox} (consumer, scope, dedup_key, message_id, topic, partition, "offset")
     select ?, r.scope, r.dedup_key, r.message_id, r.topic, r.partition, r.offset
     from unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::integer[], ?::bigint[])
       as r(scope, dedup_key, message_id, topic, partition, "offset")
     where r.scope = '' or not exists (
       select 1 from ${tables.inbox} old
       where old.consumer = ? and old.scope = '' and old.dedup_key = r.dedup_key and old.status = 'done'
         and (old.topic is null or old.topic = r.topic))
     order by r.scope, r.dedup_key
     on conflict (consumer, scope, dedup_key) do nothing
     returning scope, dedup_key`,
    [consumer, c.scopes, c.dedupKeys, c.messageIds.map(pgText) as string[], c.topics, c.partitions, c.offsets, consumer],
  );
  return (result.rows as Array<{ scope: string; dedup_key: string }>).map((r) => ({ scope: r.scope, dedupKey: r.dedup_key }));
}
