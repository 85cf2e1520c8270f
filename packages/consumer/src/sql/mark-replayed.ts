import type { Tables } from '@onceflow/core';
import type { Knex } from 'knex';

/** Marks dead letters replayed; returns how many were still unreplayed. */
export async function markReplayed(db: Knex | Knex.Transaction, tables: Tables, ids: readonly string[]): Promise<number> {
  const result = await db.raw(`update ${tables.deadLetters} set replayed_at = now() where id = any(?::bigint[]) and replayed_at is null`, [
    [...ids],
  ]);
  return result.rowCount ?? 0;
}
