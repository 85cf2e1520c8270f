import type { Tables } from '@onceflow/core';
import type { Knex } from 'knex';

/**
 * Which of `shards` have a row that holds back later rows of its key (failed and waiting for
 * its retry, or dead under onDead 'block'). Planned afresh each time rather than prepared, so
 * the plan follows the table's real size and reads the tiny `outbox_holds_key` index.
 */
export async function shardsHoldingKeys(knex: Knex, tables: Tables, shards: readonly number[]): Promise<Set<number>> {
  if (shards.length === 0) return new Set();
  const result = await knex.raw(`select distinct shard from ${tables.outbox} where holds_key and shard = any(?::smallint[])`, [
    [...shards],
  ]);
  return new Set((result.rows as Array<{ shard: number }>).map((r) => Number(r.shard)));
}
