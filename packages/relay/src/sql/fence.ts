import type { Tables } from '@onceflow/core';

/** Who may write rows of some shards: their lease holder with each lease's current token. */
export interface Fence {
  readonly relayId: string;
  readonly shards: readonly number[];
  /** Fencing tokens, one per entry of `shards`. */
  readonly tokens: readonly string[];
}

/**
 * A `fence` CTE (bindings: shards, tokens, relay id) listing the shards whose lease is still
 * held with the given token. FOR SHARE makes the fence a real barrier: a relay claiming one
 * of the shards (an UPDATE of its row) waits for this statement's transaction, and this
 * statement waits for a claim in progress and then sees the new token and leaves that shard's
 * rows alone. So once a claim commits, no write of the previous holder can land.
 */
export function fenceCte(tables: Tables): string {
  return `fence as materialized (
       select r.shard from ${tables.relayShards} r
       join unnest(?::smallint[], ?::bigint[]) as t(shard, token) on r.shard = t.shard and r.fencing_token = t.token
       where r.owner = ?
       for share of r
     )`;
}

/** The bindings of {@link fenceCte}. */
export function fenceBindings(fence: Fence): [number[], string[], string] {
  return [[...fence.shards], [...fence.tokens], fence.relayId];
}

/**
 * A `relaxed` CTE that commits its statement without waiting for the WAL flush
 * (`synchronous_commit = off` for this transaction only). Used by the relay's bookkeeping
 * writes: if the server crashes before the WAL is flushed, a row marked published is pending
 * again and gets published once more (a duplicate, which consumers drop by id); a failure
 * record lost the same way only costs one more attempt. Nothing is ever lost, and the relay
 * stops waiting on an fsync per batch. The statement must reference `relaxed` to run it.
 */
export const relaxedCommitCte = `relaxed as (select set_config('synchronous_commit', 'off', true) as setting)`;
