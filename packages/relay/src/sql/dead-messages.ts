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

/** The `where` clause selecting dead rows that match `filter`. */
export function deadWhere(filter: DeadFilter): { sql: string; bindings: Knex.Value[] } {
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
  const w = deadWhere(filter);
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
