import type { MysqlTables } from '@onceflow/core';
import type { Knex } from 'knex';

/** A stored message found by its `(topic, idempotency_key)`. */
export interface StoredMessage {
  readonly id: string;
  readonly topic: string;
  /** The idempotency key's UTF-8 bytes, as the VARBINARY column holds them. */
  readonly idempotency_key: Buffer;
}

/**
 * Which of `ids` (the ids an enqueue just tried to insert) this transaction wrote. A plain
 * read, which locks nothing: a transaction always sees its own inserts, whatever its
 * snapshot. The lookup is by the unique `id` index.
 */
export async function findOwnMessages(trx: Knex.Transaction, tables: MysqlTables, ids: readonly string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const result = await trx.raw(`select id from ${tables.outbox} where id in (${ids.map(() => '?').join(', ')})`, [...ids]);
  return (result as [Array<{ id: string }>])[0].map((r) => r.id);
}

/**
 * The stored messages of `pairs`, `(topic, idempotency_key)` pairs an enqueue met as
 * duplicates: the earlier messages whose ids it reports.
 *
 * A locking read (FOR UPDATE), because a plain SELECT in REPEATABLE READ reads the snapshot
 * taken at the transaction's first read and can miss a duplicate committed since, which the
 * insert (a locking read itself) did meet. It waits for nothing new: the insert already holds
 * an exclusive lock on every row this finds. Each pair is an equality on the whole unique
 * index, so InnoDB locks the records found and no gap beside them. Only duplicates are read
 * this way: an earlier version read every row of the enqueue with one row-constructor `IN`
 * list, which both servers may run as a range scan taking next-key locks, and concurrent
 * enqueues into one topic then deadlocked on each other's gaps.
 */
export async function findStoredMessages(
  trx: Knex.Transaction,
  tables: MysqlTables,
  pairs: ReadonlyArray<readonly [topic: string, idempotencyKey: string]>,
): Promise<StoredMessage[]> {
  return selectPairs(trx, tables, pairs, 'for update');
}

/**
 * The messages of `pairs` that this transaction's snapshot already holds: the duplicates an
 * enqueue can skip without meeting them in the insert. A plain read, which locks nothing.
 *
 * Why read before inserting: an upsert that meets a stored row puts an exclusive next-key lock
 * on it (and on the gap below it in the unique index) until this transaction ends. A client
 * retrying an enqueue inside a long transaction would so hold the relay's mark of that row
 * (and every enqueue of the topic whose idempotency key sorts into that gap) until it
 * commits; PostgreSQL's `on conflict do nothing` locks nothing. A duplicate committed after
 * the snapshot was taken is not seen here and still meets the insert, as before.
 */
export async function findCommittedMessages(
  trx: Knex.Transaction,
  tables: MysqlTables,
  pairs: ReadonlyArray<readonly [topic: string, idempotencyKey: string]>,
): Promise<StoredMessage[]> {
  return selectPairs(trx, tables, pairs, '');
}

/** The stored messages of `pairs`, each looked up by an equality on the whole unique index. */
async function selectPairs(
  trx: Knex.Transaction,
  tables: MysqlTables,
  pairs: ReadonlyArray<readonly [topic: string, idempotencyKey: string]>,
  lockClause: 'for update' | '',
): Promise<StoredMessage[]> {
  if (pairs.length === 0) return [];
  const result = await trx.raw(
    `select id, topic, idempotency_key from ${tables.outbox}
     where ${pairs.map(() => '(topic = ? and idempotency_key = ?)').join(' or ')} ${lockClause}`,
    pairs.flat(),
  );
  return (result as [StoredMessage[]])[0];
}
