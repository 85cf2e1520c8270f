import type { MysqlTables } from '@onceflow/core';
import type { Knex } from 'knex';

/** One outbox row to insert on MySQL; values as the driver binds them. */
export interface MysqlMessageRow {
  readonly id: string;
  readonly topic: string;
  readonly key: string;
  readonly shard: number;
  readonly idempotencyKey: string;
  readonly type: string | null;
  readonly payload: Buffer;
  /** The headers as JSON text. */
  readonly headers: string;
  /** `YYYY-MM-DD hh:mm:ss.ffffff` in UTC, or null for now. */
  readonly availableAt: string | null;
}

/**
 * Inserts outbox rows, one statement for any number, in array order (so `seq`, drawn per row
 * in the order written, follows the order the caller enqueued). Call it only while holding the
 * rows' key locks ({@link lockKeys}), which is what makes `seq` follow commit order per key.
 *
 * A row whose `(topic, idempotency_key)` is stored already is skipped: `ON DUPLICATE KEY UPDATE
 * id = id` changes nothing, and unlike `INSERT IGNORE` it turns no other error (a value too
 * long, a failed CHECK, a bad JSON document) into a warning and a silently missing row. The
 * other unique keys cannot meet a duplicate: `seq` is generated and `id` a fresh uuid v7. Which
 * rows were written is read back afterwards ({@link findOwnMessages}): MySQL 8 has no RETURNING,
 * and the affected-row count of a multi-row upsert cannot tell rows apart.
 *
 * Meeting a duplicate locks it with a next-key lock on the unique index, whose gap also holds
 * back another producer's insert of a neighbouring idempotency key of the same topic until
 * this transaction ends. Two enqueues that both meet duplicates can so deadlock (1213; MySQL
 * rolls one back whole and the caller retries it); enqueues without duplicates never wait here.
 */
export async function insertMessages(trx: Knex.Transaction, tables: MysqlTables, rows: readonly MysqlMessageRow[]): Promise<void> {
  if (rows.length === 0) return;
  const bindings: unknown[] = [];
  for (const r of rows) {
    bindings.push(r.id, r.topic, r.key, r.shard, r.idempotencyKey, r.type, r.payload, r.headers, r.availableAt);
  }
  await trx.raw(
    `insert into ${tables.outbox} (id, topic, \`key\`, shard, idempotency_key, type, payload, headers, available_at)
     values ${rows.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, coalesce(?, utc_timestamp(6)))').join(', ')}
     on duplicate key update id = id`,
    bindings as Knex.RawBinding[],
  );
}
