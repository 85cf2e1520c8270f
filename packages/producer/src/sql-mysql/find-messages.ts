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
 * The stored messages of the `(topic, idempotency_key)` pairs just inserted: the enqueue's own
 * rows and the earlier messages its duplicates met.
 *
 * A locking read (FOR UPDATE), because a plain SELECT in REPEATABLE READ reads the snapshot
 * taken at the transaction's first read and can miss a duplicate committed since, which the
 * insert (a locking read itself) did meet. It waits for nothing new: the insert already holds
 * an exclusive lock on every row this finds.
 */
export async function findMessages(
  trx: Knex.Transaction,
  tables: MysqlTables,
  pairs: ReadonlyArray<readonly [topic: string, idempotencyKey: string]>,
): Promise<StoredMessage[]> {
  if (pairs.length === 0) return [];
  const result = await trx.raw(
    `select id, topic, idempotency_key from ${tables.outbox}
     where (topic, idempotency_key) in (${pairs.map(() => '(?, ?)').join(', ')})
     for update`,
    pairs.flat(),
  );
  return (result as [StoredMessage[]])[0];
}
