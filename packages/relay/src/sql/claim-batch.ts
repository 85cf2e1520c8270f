import type { Tables } from '@onceflow/core';
import type { Knex } from 'knex';

/** An outbox row as the relay publishes it. */
export interface OutboxRow {
  seq: string;
  id: string;
  topic: string;
  key: string;
  idempotency_key: string;
  type: string | null;
  payload: Buffer;
  headers: Record<string, string>;
  created_at: Date;
  attempts: number;
}

/**
 * The next due rows of one shard, in `seq` order: for one (topic, key) that is the order in
 * which the producers' transactions committed (they serialise on the key's advisory lock).
 *
 * No row locks: only the holder of the shard's lease runs this, and every status write is
 * fenced by the lease's token, so the lease is what keeps two relays off the same rows.
 * A row is skipped while an earlier row of its key holds the key (failed and waiting for its
 * retry, or dead under onDead 'block'); the probe reads the tiny `outbox_holds_key` index.
 * A delayed row (not yet due, never failed) holds nothing back: later rows of its key go
 * first, as the producer asked that one message to wait, not the key.
 */
export async function claimBatch(knex: Knex, tables: Tables, shard: number, limit: number): Promise<OutboxRow[]> {
  const result = await knex.raw(
    `select o.seq, o.id, o.topic, o.key, o.idempotency_key, o.type, o.payload, o.headers, o.created_at, o.attempts
     from ${tables.outbox} o
     where o.shard = ? and o.status = 'pending' and o.available_at <= now()
       and not exists (
         select 1 from ${tables.outbox} h
         where h.holds_key and h.topic = o.topic and h.key = o.key and h.seq < o.seq
       )
     order by o.seq
     limit ?`,
    [shard, limit],
  );
  return result.rows as OutboxRow[];
}
