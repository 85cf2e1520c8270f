import type { Tables } from '@onceflow/core';
import { GROUP_NOTE_PREFIX } from '../sql/group-note.ts';
import { metaNameFor } from './meta-names.ts';
import type { MysqlDb } from './results.ts';

/**
 * Notes that `group` starts over `consumer`, as PostgreSQL's `noteGroupStarted`: the same group
 * keeps what it noted (a resumed group stays committed); another group replaces the note. The
 * CASE reads the stored JSON only once json_valid said it is JSON, because json_extract fails
 * on anything else (MySQL 8) and AND does not promise to stop early. VALUES() in ON DUPLICATE
 * KEY UPDATE: both servers take it (MySQL 8.0.20+ deprecates it; its replacement, the
 * `AS alias` syntax, is not in MariaDB).
 */
export async function noteGroupStarted(db: MysqlDb, tables: Tables, consumer: string, group: string): Promise<void> {
  await db.raw(
    `insert into ${tables.meta} (name, value) values (?, ?)
     on duplicate key update value = case
       when json_valid(value) and json_unquote(json_extract(value, '$.group')) <=> ? then value
       else values(value) end`,
    [metaNameFor(GROUP_NOTE_PREFIX, consumer), JSON.stringify({ group, committed: false }), group],
  );
}

/** Notes that `group` committed an offset over `consumer`. */
export async function noteGroupCommitted(db: MysqlDb, tables: Tables, consumer: string, group: string): Promise<void> {
  await db.raw(`insert into ${tables.meta} (name, value) values (?, ?) on duplicate key update value = values(value)`, [
    metaNameFor(GROUP_NOTE_PREFIX, consumer),
    JSON.stringify({ group, committed: true }),
  ]);
}
