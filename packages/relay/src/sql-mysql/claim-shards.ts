import type { Tables } from '@onceflow/core';
import type { Knex } from 'knex';
import type { ShardLease } from '../sql/claim-shards.ts';
import { micros, mysqlRows, retryLockConflicts } from './results.ts';

/** `(shard, fencing_token) in ((?, ?), ...)` for `leases`, with its bindings. */
function leaseTuples(leases: readonly ShardLease[]): { sql: string; bindings: Array<number | string> } {
  // Tokens travel as decimal text and are cast to integers: comparing a BIGINT with a string
  // would compare both as doubles, which are inexact above 2^53.
  // `shard in (...)` first: the primary key then finds the rows, and a locking statement locks
  // only them, not every row of a full scan (which REPEATABLE READ keeps locked).
  return {
    sql: `shard in (${leases.map(() => '?').join(', ')}) and (shard, fencing_token) in (${leases.map(() => '(?, cast(? as signed))').join(', ')})`,
    bindings: [...leases.map((l) => l.shard), ...leases.flatMap((l) => [l.shard, l.token])],
  };
}

/**
 * Claims up to `limit` shards whose lease is free or expired, bumping each one's fencing
 * token, on MySQL and MariaDB. Neither can `UPDATE ... RETURNING` (MariaDB returns rows from
 * INSERT and DELETE only, MySQL from nothing), so one transaction locks the candidates with
 * `FOR UPDATE SKIP LOCKED` (both servers; MySQL 8.0.1+, MariaDB 10.6+), updates them and reads
 * their new tokens back. SKIP LOCKED: relays claiming at once take different shards instead of
 * queueing; a shard locked by a relay's fenced mark (a shared lock) is skipped too and tried
 * again next tick.
 *
 * The order (free shards first, then the longest expired) comes from a plain read, and the
 * locking read then takes the candidates `limit` at a time by primary key. A locking read that
 * sorted would have to read, and so lock, every candidate before its LIMIT applies, and relays
 * claiming at the same moment would then skip each other's whole candidate lists and mostly
 * get nothing. READ COMMITTED, so that a row the locking read looks at but does not take (its
 * lease renewed since the plain read) is unlocked at once; nothing here depends on the
 * snapshot: the locking read checks the lease again on the latest row.
 */
export async function claimShards(knex: Knex, tables: Tables, relayId: string, limit: number, leaseMs: number): Promise<ShardLease[]> {
  if (limit <= 0) return [];
  return retryLockConflicts(() =>
    knex.transaction(
      async (trx) => {
        const candidates = mysqlRows<{ shard: number }>(
          await trx.raw(
            `select shard from ${tables.relayShards}
           where owner is null or lease_until < utc_timestamp(6)
           order by owner is null desc, lease_until, shard`,
          ),
        ).map((r) => Number(r.shard));
        const free: number[] = [];
        for (let at = 0; at < candidates.length && free.length < limit; ) {
          const chunk = candidates.slice(at, at + limit - free.length);
          at += chunk.length;
          const taken = mysqlRows<{ shard: number }>(
            await trx.raw(
              `select shard from ${tables.relayShards}
             where shard in (${chunk.map(() => '?').join(', ')}) and (owner is null or lease_until < utc_timestamp(6))
             for update skip locked`,
              chunk,
            ),
          );
          free.push(...taken.map((r) => Number(r.shard)));
        }
        if (free.length === 0) return [];
        const list = free.map(() => '?').join(', ');
        await trx.raw(
          `update ${tables.relayShards}
         set owner = ?, lease_until = utc_timestamp(6) + interval ? microsecond, fencing_token = fencing_token + 1
         where shard in (${list})`,
          [relayId, micros(leaseMs), ...free],
        );
        // The rows are this transaction's (locked and written by it): the read sees its writes.
        const claimed = mysqlRows<{ shard: number; token: string }>(
          await trx.raw(
            `select shard, cast(fencing_token as char) as token from ${tables.relayShards} where shard in (${list}) order by shard`,
            free,
          ),
        );
        return claimed.map((r) => ({ shard: Number(r.shard), token: String(r.token) }));
      },
      { isolationLevel: 'read committed' },
    ),
  );
}

/**
 * Extends the leases this relay still holds with the same token and returns their shards; a
 * shard missing from the answer was taken over and is lost. Without RETURNING the update is
 * followed by a read of the leases still held with those tokens: a token only grows, so a
 * lease the update missed is not found by the read either, and a lease taken over between the
 * two is reported lost, which it is.
 */
export async function renewShards(
  knex: Knex,
  tables: Tables,
  relayId: string,
  leases: readonly ShardLease[],
  leaseMs: number,
): Promise<number[]> {
  if (leases.length === 0) return [];
  const tuples = leaseTuples(leases);
  await retryLockConflicts(() =>
    knex.raw(`update ${tables.relayShards} set lease_until = utc_timestamp(6) + interval ? microsecond where owner = ? and ${tuples.sql}`, [
      micros(leaseMs),
      relayId,
      ...tuples.bindings,
    ]),
  );
  const held = mysqlRows<{ shard: number }>(
    await knex.raw(`select shard from ${tables.relayShards} where owner = ? and ${tuples.sql}`, [relayId, ...tuples.bindings]),
  );
  return held.map((r) => Number(r.shard));
}

/** Gives leases back at once (stop, or handing shards to a newly joined relay). */
export async function releaseShards(knex: Knex, tables: Tables, relayId: string, leases: readonly ShardLease[]): Promise<void> {
  if (leases.length === 0) return;
  const tuples = leaseTuples(leases);
  await retryLockConflicts(() =>
    knex.raw(
      // DATETIME's first day stands in for PostgreSQL's '-infinity' (see the MySQL migrations).
      `update ${tables.relayShards} set owner = null, lease_until = '1000-01-01 00:00:00' where owner = ? and ${tuples.sql}`,
      [relayId, ...tuples.bindings],
    ),
  );
}
