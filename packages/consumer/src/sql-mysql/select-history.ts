import type { Tables } from '@onceflow/core';
import { INBOX_PRUNED_PREFIX } from '../sql/delete-old-inbox-rows.ts';
import { GROUP_NOTE_PREFIX, parseGroupNote } from '../sql/group-note.ts';
import type { ConsumerHistory } from '../sql/select-history.ts';
import { metaNameFor } from './meta-names.ts';
import type { MysqlDb } from './results.ts';
import { keyBytes, mysqlRows } from './results.ts';

/** Whether `consumer` has history, as PostgreSQL's `selectHistory`; each probe stops at its first row. */
export async function selectHistory(db: MysqlDb, tables: Tables, consumer: string): Promise<ConsumerHistory> {
  const result = await db.raw(
    `select exists(select 1 from ${tables.inbox} where consumer = ?) as inbox_rows,
            exists(select 1 from ${tables.deadLetters} where consumer = ?) as dead_letters,
            exists(select 1 from ${tables.meta} where name = ?) as pruned,
            (select value from ${tables.meta} where name = ?) as group_note`,
    [keyBytes(consumer), keyBytes(consumer), metaNameFor(INBOX_PRUNED_PREFIX, consumer), metaNameFor(GROUP_NOTE_PREFIX, consumer)],
  );
  const row = mysqlRows<{ inbox_rows: number; dead_letters: number; pruned: number; group_note: string | null }>(result)[0];
  return {
    inboxRows: Number(row?.inbox_rows) === 1,
    deadLetters: Number(row?.dead_letters) === 1,
    pruned: Number(row?.pruned) === 1,
    group: parseGroupNote(row?.group_note),
  };
}
