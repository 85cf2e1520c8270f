import type { Tables } from '@onceflow/core';
import type { Knex } from 'knex';

/** A shard lease this relay holds. */
export interface ShardLease {
  shard: number;
  /** Bumped by every claim; every write of the shard's rows is fenced by it. */
  token: string;
}

/**
 * Claims up to `limit` shards whose lease is free or expired, bumping each one's fencing
 * token so writes of the previous holder (a killed or paused relay) fail from now on.
 * FOR UPDATE SKIP LOCKED: relays claiming at the same moment take different shards instead
 * of queueing on each other's row locks; a relay that finds nothing tries again next tick.
 * Free shards come first, then the longest expired.
 */
export async function claimShards(knex: Knex, tables: Tables, relayId: string, limit: number, leaseMs: number): Promise<ShardLease[]> {
  if (limit <= 0) return [];
  const result = await knex.raw(
    `with free as (
       select shard from ${tables.relayShards}
       where owner is null or lease_until < now()
       order by owner is null desc, lease_until, shard
       limit ?
       for update skip locked
     )
     update ${tables.relayShards} r
     set owner = ?, lease_until = now() + ? * interval '1 millisecond', fencing_token = r.fencing_token + 1
     from free where r.shard = free.shard
     returning r.shard, r.fencing_token::text as token`,
    [limit, relayId, leaseMs],
  );
  return result.rows as ShardLease[];
}

/**
 * Extends the leases this relay still holds with the same token and returns their shards;
 * a shard missing from the answer was taken over (its lease had expired) and is lost.
 */
export async function renewShards(
  knex: Knex,
  tables: Tables,
  relayId: string,
  leases: readonly ShardLease[],
  leaseMs: number,
): Promise<number[]> {
  if (leases.length === 0) return [];
  const result = await knex.raw(
    `update ${tables.relayShards} r
     set lease_until = now() + ? * interval '1 millisecond'
     from unnest(?::smallint[], ?::bigint[]) as t(shard, token)
     where r.shard = t.shard and r.owner = ? and r.fencing_token = t.token
     returning r.shard`,
    [leaseMs, leases.map((l) => l.shard), leases.map((l) => l.token), relayId],
  );
  return (result.rows as Array<{ shard: number }>).map((r) => r.shard);
}

/** Gives leases back at once (stop, or handing shards to a newly joined relay). */
export async function releaseShards(knex: Knex, tables: Tables, relayId: string, leases: readonly ShardLease[]): Promise<void> {
  if (leases.length === 0) return;
  await knex.raw(
    `update ${tables.relayShards} r
     set owner = null, lease_until = '-infinity'
     from unnest(?::smallint[], ?::bigint[]) as t(shard, token)
     where r.shard = t.shard and r.owner = ? and r.fencing_token = t.token`,
    [leases.map((l) => l.shard), leases.map((l) => l.token), relayId],
  );
}
