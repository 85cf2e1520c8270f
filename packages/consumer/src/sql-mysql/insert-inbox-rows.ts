import type { Tables } from '@onceflow/core';
import type { Knex } from 'knex';
import { pgText } from '../pg-text.ts';
import type { InboxRowColumns } from '../sql/insert-inbox-rows.ts';
import { isDuplicateKey } from './errors.ts';
import { keyBytes, keyText, mysqlRows, placeholders } from './results.ts';

/** One inbox row to insert, in the order rows are written. */
interface InboxRow {
  readonly scope: string;
  readonly dedupKey: string;
  readonly messageId: string | null;
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
}

/**
 * Inserts `done` inbox rows for `consumer` on MySQL and MariaDB and returns the (scope, dedup
 * key) pairs that were new, as PostgreSQL's `insertInboxRows` does.
 *
 * The primary key (consumer, scope, dedup_key) is the arbiter. A plain INSERT that meets a key
 * inserted by another transaction still open waits for that transaction's row lock: committed
 * means a duplicate-key error here (1062), rolled back means the insert goes through. So a
 * second copy of a message never runs beside the first. Neither `INSERT IGNORE` (it turns
 * every other error into a warning and a silently missing row) nor `ON DUPLICATE KEY UPDATE`
 * (its affected-row count cannot tell a new row from a met one under mysql2's FOUND_ROWS, and
 * MySQL 8 has no RETURNING to say which rows were written) would tell which rows are new.
 *
 * First all rows in one statement, the common case; a duplicate-key error rolls back only that
 * statement (InnoDB keeps the transaction), and then each row is inserted alone so the error
 * names its row. Rows go in key order in both rounds, which keeps lock waits short, but does not
 * rule deadlocks out: a duplicate check takes shared next-key locks, and two transactions
 * inserting into the gaps they lock can each wait for the other (1213). Such a conflict, and a
 * lock wait timeout (1205) while another copy holds a row, says nothing about the message: the
 * inbox reports it as a wait ({@link InboxRowWait}), which is retried without spending an
 * attempt.
 *
 * A row in a topic scope is also skipped when an unscoped `done` row of the same key exists
 * whose topic is the same or unknown (see PostgreSQL's version). That is read after the
 * insert, for the new rows only, and a new row it finds is deleted again inside this
 * transaction: reading first would fix the transaction's REPEATABLE READ snapshot before the
 * insert's wait for another copy, so a handler could miss what committed during that wait.
 * Unscoped rows are committed ones (no transaction writes them in topic scope), so the plain
 * read needs no lock.
 */
export async function insertInboxRows(
  trx: Knex.Transaction,
  tables: Tables,
  consumer: string,
  c: InboxRowColumns,
): Promise<Array<{ scope: string; dedupKey: string }>> {
  const rows: InboxRow[] = c.dedupKeys.map((dedupKey, i) => ({
    scope: c.scopes[i] as string,
    dedupKey,
    messageId: c.messageIds[i] ?? null,
    topic: c.topics[i] as string,
    partition: c.partitions[i] as number,
    offset: c.offsets[i] as string,
  }));
  rows.sort(compareRows);
  const fresh = await insertNew(trx, tables, consumer, rows);
  const scoped = fresh.filter((r) => r.scope !== '');
  if (scoped.length === 0) return fresh.map(identity);
  const unscoped = await selectUnscopedDone(
    trx,
    tables,
    consumer,
    scoped.map((r) => r.dedupKey),
  );
  const superseded = scoped.filter((r) => unscoped.some((u) => u.dedupKey === r.dedupKey && (u.topic === null || u.topic === r.topic)));
  if (superseded.length > 0) await deleteRows(trx, tables, consumer, superseded);
  return fresh.filter((r) => !superseded.includes(r)).map(identity);
}

function identity(row: InboxRow): { scope: string; dedupKey: string } {
  return { scope: row.scope, dedupKey: row.dedupKey };
}

/**
 * Inserts `rows` (in key order) and returns those that were new: all in one statement, and
 * after a duplicate-key error (which rolled back only that statement) one at a time.
 */
async function insertNew(trx: Knex.Transaction, tables: Tables, consumer: string, rows: readonly InboxRow[]): Promise<InboxRow[]> {
  if (rows.length === 0) return [];
  try {
    await insertRows(trx, tables, consumer, rows);
    return [...rows];
  } catch (error) {
    if (!isDuplicateKey(error)) throw error;
  }
  const fresh: InboxRow[] = [];
  for (const row of rows) {
    try {
      await insertRows(trx, tables, consumer, [row]);
      fresh.push(row);
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
    }
  }
  return fresh;
}

/** Deletes inbox rows this transaction inserted, by primary key. */
async function deleteRows(trx: Knex.Transaction, tables: Tables, consumer: string, rows: readonly InboxRow[]): Promise<void> {
  await trx.raw(
    `delete from ${tables.inbox} where ${rows.map(() => '(consumer = ? and scope = ? and dedup_key = ?)').join(' or ')}`,
    rows.flatMap((r) => [keyBytes(consumer), r.scope, keyBytes(r.dedupKey)]),
  );
}

/** Inserts `rows` in one plain INSERT, in the order given; a duplicate fails the whole statement (1062). */
async function insertRows(trx: Knex.Transaction, tables: Tables, consumer: string, rows: readonly InboxRow[]): Promise<void> {
  const bindings: Knex.RawBinding[] = [];
  for (const r of rows) {
    bindings.push(
      keyBytes(consumer),
      r.scope,
      keyBytes(r.dedupKey),
      r.messageId === null ? null : pgText(r.messageId),
      r.topic,
      r.partition,
      r.offset,
    );
  }
  await trx.raw(
    `insert into ${tables.inbox} (consumer, scope, dedup_key, message_id, topic, \`partition\`, \`offset\`)
     values ${rows.map(() => '(?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
    bindings,
  );
}

/** The unscoped `done` rows of `consumer` among `dedupKeys`, with their topics. */
async function selectUnscopedDone(
  trx: Knex.Transaction,
  tables: Tables,
  consumer: string,
  dedupKeys: readonly string[],
): Promise<Array<{ dedupKey: string; topic: string | null }>> {
  const result = await trx.raw(
    `select dedup_key, topic from ${tables.inbox}
     where consumer = ? and scope = '' and status = 'done' and dedup_key in (${placeholders(dedupKeys.length)})`,
    [keyBytes(consumer), ...dedupKeys.map(keyBytes)],
  );
  return mysqlRows<{ dedup_key: Buffer; topic: string | null }>(result).map((r) => ({ dedupKey: keyText(r.dedup_key), topic: r.topic }));
}

/** Primary key order: scope (ASCII), then the dedup key's bytes, as InnoDB orders VARBINARY. */
function compareRows(a: InboxRow, b: InboxRow): number {
  if (a.scope !== b.scope) return a.scope < b.scope ? -1 : 1;
  return Buffer.compare(keyBytes(a.dedupKey), keyBytes(b.dedupKey));
}
