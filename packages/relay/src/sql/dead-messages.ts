import type { Tables } from '@onceflow/core';
import type { Knex } from 'knex';

/** A dead outbox row as listed for operators. */
export interface DeadRow {
  seq: string;
  id: string;
  topic: string;
  key: string;
  idempotency_key: string;
  type: string | null;
  attempts: number;
  errors: Array<Record<string, unknown>>;
  created_at: Date;
  dead_at: Date;
}

/** Which dead rows a list or requeue applies to; all given fields must match. */
export interface DeadFilter {
  ids?: readonly string[] | undefined;
  topic?: string | undefined;
  key?: string | undefined;
}

function where(filter: DeadFilter): { sql: string; bindings: Knex.Value[] } {
  const parts = [`status = 'dead'`];
  const bindings: Knex.Value[] = [];
  if (filter.ids !== undefined) {
    parts.push('id = any(?::uuid[])');
    bindings.push([...filter.ids]);
  }
  if (filter.topic !== undefined) {
    parts.push('topic = ?');
    bindings.push(filter.topic);
  }
  if (filter.key !== undefined) {
    parts.push('key = ?');
    bindings.push(filter.key);
  }
  return { sql: parts.join(' and '), bindings };
}

/** Dead rows matching `filter` after `afterSeq`, oldest first, served by the `outbox_dead` partial index. */
export async function selectDead(knex: Knex, tables: Tables, filter: DeadFilter, afterSeq: string, limit: number): Promise<DeadRow[]> {
  const w = where(filter);
  const result = await knex.raw(
    `select seq, id, topic, key, idempotency_key, type, attempts, errors, created_at, dead_at
     from ${tables.outbox}
     where ${w.sql} and seq > ?::bigint
     order by seq
     limit ?`,
    [...w.bindings, afterSeq, limit],
  );
  return result.rows as DeadRow[];
}

/**
 * Puts dead rows back to pending with a fresh attempt budget, keeping their error history,
 * and wakes the relays. The row no longer holds its key; under onDead 'skip' later messages
 * of its key may already be published, so a requeued message arrives after them.
 */
export async function requeueDeadRows(knex: Knex, tables: Tables, filter: DeadFilter): Promise<string[]> {
  const w = where(filter);
  const result = await knex.raw(
    `with requeued as (
       update ${tables.outbox}
       set status = 'pending', attempts = 0, holds_key = false, dead_at = null, available_at = now()
       where ${w.sql}
       returning id, shard
     ), woken as (
       select pg_notify(?, string_agg(distinct shard::text, ',')) from requeued having count(*) > 0
     )
     select id, (select count(*) from woken) as woken from requeued`,
    [...w.bindings, tables.channel],
  );
  return (result.rows as Array<{ id: string }>).map((r) => r.id);
}
