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
 * names its row. Rows go in key order in both rounds, so two transactions meeting on several
 * keys take their locks in one order and do not deadlock over them.
 *
 * A row in a topic scope is also skipped when an unscoped `done` row of the same key exists
 * whose topic is the same or unknown (see PostgreSQL's version): read first, committed rows
 * only, so the read needs no lock.
 */
export async function insertInboxRows(
  trx: Knex.Transaction,
  tables: Tables,
  consumer: string,
  c: InboxRowColumns,
): Promise<Array<{ scope: string; dedupKey: string }>> {
  let rows: InboxRow[] = c.dedupKeys.map((dedupKey, i) => ({
    scope: c.scopes[i] as string,
    dedupKey,
    messageId: c.messageIds[i] ?? null,
    topic: c.topics[i] as string,
    partition: c.partitions[i] as number,
    offset: c.offsets[i] as string,
  }));
  const scoped = rows.filter((r) => r.scope !== '').map((r) => r.dedupKey);
  if (scoped.length > 0) {
    const unscoped = await selectUnscopedDone(trx, tables, consumer, scoped);
    rows = rows.filter(
      (r) => r.scope === '' || !unscoped.some((u) => u.dedupKey === r.dedupKey && (u.topic === null || u.topic === r.topic)),
    );
  }
  rows.sort(compareRows);
  if (rows.length === 0) return [];
  try {
    await insertRows(trx, tables, consumer, rows);
    return rows.map((r) => ({ scope: r.scope, dedupKey: r.dedupKey }));
  } catch (error) {
    if (!isDuplicateKey(error)) throw error;
  }
  const fresh: Array<{ scope: string; dedupKey: string }> = [];
  for (const row of rows) {
    try {
      await insertRows(trx, tables, consumer, [row]);
      fresh.push({ scope: row.scope, dedupKey: row.dedupKey });
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
    }
  }
  return fresh;
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
