import type { Tables } from '@onceflow/core';

/** Who may write a shard's rows: its lease holder with the current token. */
export interface Fence {
  readonly shard: number;
  readonly relayId: string;
  readonly token: string;
}

/**
 * A `fence` CTE (bindings: shard, relay id, token) that is non-empty while the lease is
 * held. FOR SHARE makes the fence a real barrier: a relay claiming the shard (an UPDATE of
 * the same row) waits for this statement's transaction, and this statement waits for a
 * claim in progress and then sees the new token and writes nothing. So once a claim commits,
 * no write of the previous holder can land.
 */
export function fenceCte(tables: Tables): string {
  return `fence as materialized (
       select 1 from ${tables.relayShards}
       where shard = ? and owner = ? and fencing_token = ?::bigint
       for share
     )`;
}
