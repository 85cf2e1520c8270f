import type { Tables } from '@onceflow/core';
import { prepared } from '@onceflow/core';
import type { Knex } from 'knex';

/** An outbox row as the relay publishes it. */
export interface OutboxRow {
  seq: string;
  id: string;
  topic: string;
  key: string;
  shard: number;
  idempotency_key: string;
  type: string | null;
  payload: Buffer;
  headers: Record<string, string>;
  /** Creation time, ISO 8601 in UTC. */
  created_at: string;
  attempts: number;
}

/**
 * The next due rows of the given shards, in `seq` order: for one (topic, key) that is the
 * order in which the producers' transactions committed (they serialise on the key's advisory
 * lock). One (topic, key) lives in one shard, so its rows come in order whatever shards are
 * asked for together.
 *
 * No row locks: only the holder of a shard's lease claims its rows, and every status write is
 * fenced by the lease's token, so the lease is what keeps two relays off the same rows.
 * One arm per shard walks `outbox_pending` (shard, seq) in order, and a merge of the arms
 * takes the first `limit` rows: each arm steps over its own shard's entries only, and the
 * merged batch holds rows written close together, which lie close together on disk.
 * A row is skipped while an earlier row of its key holds the key (failed and waiting for its
 * retry, or dead under onDead 'block'); that probe reads the tiny `outbox_holds_key` index,
 * which holds a hash of the key (a long key would not fit an index entry), so it compares the
 * hash to find the entries and the key itself to rule out two keys sharing a hash.
 * A delayed row (not yet due, never failed) holds nothing back: later rows of its key go
 * first, as the producer asked that one message to wait, not the key.
 *
 * "Due" is judged by the clock read while the statement runs, after its snapshot was taken,
 * not by `now()` (the start of the claim's transaction): a row's `available_at` defaults to
 * the start of the transaction that wrote it (or requeued it), so every row in the snapshot
 * that was not delayed on purpose is due. With `now()`, a claim that began just before such a
 * transaction but took its snapshot after that commit would take the row for a delayed one
 * and send a later row of its key first.
 *
 * `probeHeldKeys` false leaves the probe out: the relay knows none of these shards has a
 * holding row (see HeldLease.mayHoldKeys). That is not only cheaper: a prepared plan made
 * while the outbox was nearly empty may probe with a sequential scan of the whole table,
 * which grows slower with every published row until the next ANALYZE.
 *
 * `sending` (per shard) names the rows of the previous batch whose marks are still being
 * written while this batch is read: exactly those are skipped. Skipping by a seq bound instead
 * would be wrong: a row with a lower seq whose transaction committed late would be passed
 * over while a later row of its key is sent. The arm compares only rows at or below the
 * highest seq in flight against the list.
 */
export async function claimBatch(
  knex: Knex,
  tables: Tables,
  shards: readonly number[],
  limit: number,
  sending?: ReadonlyArray<readonly string[]>,
  probeHeldKeys = true,
): Promise<OutboxRow[]> {
  if (shards.length === 0) return [];
  const heldKeyProbe = probeHeldKeys
    ? `
        and not exists (
          select 1 from ${tables.outbox} h
          where h.holds_key and h.topic = o.topic and hashtextextended(h.key, 0) = hashtextextended(o.key, 0)
            and h.key = o.key and h.seq < o.seq
        )`
    : '';
  const arm = `(select o.seq, o.id, o.topic, o.key, o.shard, o.idempotency_key, o.type, o.payload, o.headers, o.attempts,
        to_char(o.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as created_at
      from ${tables.outbox} o
      where o.shard = ?::smallint and o.status = 'pending' and o.available_at <= (select clock_timestamp())
        and (o.seq > ?::bigint or o.seq <> all(?::bigint[]))${heldKeyProbe}
      order by o.seq
      limit ?)`;
  const sql =
    shards.length === 1 ? arm : `select * from (${shards.map(() => arm).join('\n     union all\n     ')}) batch order by seq limit ?`;
  const bindings = shards.flatMap((shard, i) => {
    const seqs = sending?.[i] ?? [];
    return [shard, seqs.at(-1) ?? '0', [...seqs], limit];
  });
  if (shards.length > 1) bindings.push(limit);
  const result = await prepared(knex, sql, bindings);
  return result.rows as OutboxRow[];
}
