import type { Tables } from '@onceflow/core';
import type { OutboxRow } from '../sql/claim-batch.ts';
import type { Runner } from './results.ts';
import { isoUtc, jsonValue, mysqlRows, placeholders, utf8 } from './results.ts';

/**
 * The next due rows of the given shards, in `seq` order, on MySQL and MariaDB: the MySQL
 * version of `claimBatch` in sql/claim-batch.ts, with the same lease-based reasoning. For one
 * (topic, key) `seq` order is the producers' commit order (they serialise on the key's
 * `key_locks` row; see the producer's sql-mysql/lock-keys.ts).
 *
 * A plain consistent read (the statement's own snapshot, autocommit), fenced by the shard lease
 * like every write: no row locks. In particular not `FOR UPDATE SKIP LOCKED` on outbox rows:
 * a row still locked by something else (a mark of the previous holder, an operator's update)
 * would be skipped while a later row of its key is taken and sent first.
 *
 * One arm per shard walks the `outbox_pending` index (`pending_shard`, with InnoDB's implicit
 * `seq` after it) in order; a merge of the arms takes the first `limit` rows. The held-key
 * probe reads the `outbox_holds_key` index on `held_key` (topic, 0x00, key; NULL unless the
 * row holds its key), whose entries end in `seq`: one index range per row, comparing the whole
 * key, so no hash is needed. `sending` (per shard) names the rows of the previous batch whose
 * marks are still being written: exactly those are skipped, as on PostgreSQL.
 *
 * "Due": on PostgreSQL the clock is read while the statement runs, after its snapshot was
 * taken. MySQL has no such clock: `utc_timestamp(6)` is fixed when the statement starts, and
 * InnoDB creates the snapshot later, at the statement's first read. A row whose transaction
 * wrote it after that start but committed before the snapshot is visible yet "not due" by the
 * statement's clock; were it let through to later rows of its key, they would go first. So a
 * row is due when `available_at <= greatest(utc_timestamp(6), created_at)`:
 * - a row not delayed on purpose has `available_at = created_at` (the producer's insert sets
 *   both from one statement's clock), so it is due in any snapshot that shows it, whatever the
 *   clock says;
 * - a requeued dead row gets `available_at = created_at` back (sql-mysql/requeue-dead.ts), due
 *   at once for the same reason (PostgreSQL's requeue writes `now()`, which its claim's clock
 *   is later than);
 * - a row delayed on purpose (`available_at > created_at`) is judged by the clock; if the clock
 *   is a little early the row waits one more poll, and later rows of its key may pass it, which
 *   is what a delay means (the producer asked that message to wait, not the key);
 * - a row backing off after a failure holds its key, so the probe keeps later rows back
 *   whatever the clock says.
 *
 * `probeHeldKeys` false leaves the probe out (no held shard has a holding row).
 */
export async function claimBatch(
  knex: Runner,
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
          where h.held_key = concat(o.topic, 0x00, o.\`key\`) and h.seq < o.seq
        )`
    : '';
  const bindings: unknown[] = [];
  const arms = shards.map((shard, i) => {
    const seqs = sending?.[i] ?? [];
    bindings.push(shard);
    // MySQL refuses `not in ()`: with nothing in flight the clause is left out.
    let skip = '';
    if (seqs.length > 0) {
      skip = `and (o.seq > ? or o.seq not in ${placeholders(seqs.length)})`;
      bindings.push(seqs.at(-1), ...seqs);
    }
    bindings.push(limit);
    return `(select o.seq
      from ${tables.outbox} o
      where o.pending_shard = ? and o.available_at <= greatest(utc_timestamp(6), o.created_at)
        ${skip}${heldKeyProbe}
      order by o.seq
      limit ?)`;
  });
  // Each arm a derived table of its own (`select seq from (arm) a0 union all ...`): the form
  // both servers accept in every supported version for a union of ordered, limited selects.
  // The arms and their merge carry only `seq`: MySQL materialises a derived union whole (it has
  // no lazy merge), so up to `limit` rows per shard pass through it, and the rows' payloads are
  // read only for the `limit` rows taken, by primary key, in the same statement and snapshot.
  const merged = arms.map((arm, i) => `select seq from ${arm} a${i}`).join('\n       union all\n       ');
  bindings.push(limit);
  const result = await knex.raw(
    `select cast(o.seq as char) as seq, o.id, o.topic, o.\`key\`, o.shard, o.idempotency_key, o.type, o.payload, o.headers, o.attempts,
            ${isoUtc('o.created_at')} as created_at
     from (
       ${merged}
       order by seq
       limit ?
     ) b
     join ${tables.outbox} o on o.seq = b.seq
     order by o.seq`,
    bindings as never,
  );
  return mysqlRows<Record<string, unknown>>(result).map((r) => ({
    seq: String(r.seq),
    id: String(r.id),
    topic: String(r.topic),
    key: utf8(r.key),
    shard: Number(r.shard),
    idempotency_key: utf8(r.idempotency_key),
    type: r.type === null ? null : String(r.type),
    payload: Buffer.isBuffer(r.payload) ? r.payload : Buffer.from(String(r.payload)),
    headers: jsonValue<Record<string, string>>(r.headers),
    created_at: String(r.created_at),
    attempts: Number(r.attempts),
  }));
}
