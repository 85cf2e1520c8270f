import type { Tables } from '@onceflow/core';
import type { Knex } from 'knex';
import { mysqlRows, placeholders } from './results.ts';

/**
 * Which of `shards` have a row that holds back later rows of its key; MySQL's version of
 * sql/shards-holding-keys.ts. `held_key is not null` is the MySQL form of PostgreSQL's partial
 * index predicate: it reads the small `outbox_holds_key` index, whose entries exist only for
 * holding rows.
 */
export async function shardsHoldingKeys(knex: Knex, tables: Tables, shards: readonly number[]): Promise<Set<number>> {
  if (shards.length === 0) return new Set();
  const rows = mysqlRows<{ shard: number }>(
    await knex.raw(`select distinct shard from ${tables.outbox} where held_key is not null and shard in ${placeholders(shards.length)}`, [
      ...shards,
    ]),
  );
  return new Set(rows.map((r) => Number(r.shard)));
}
