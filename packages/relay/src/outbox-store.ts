import type { Tables } from '@onceflow/core';
import type { Knex } from 'knex';
import type { RelaySql } from './relay-sql.ts';
import type { OutboxRow } from './sql/claim-batch.ts';
import type { ShardLease } from './sql/claim-shards.ts';
import type { Fence } from './sql/fence.ts';
import type { FailedAttempt } from './sql/mark-failed.ts';

/**
 * The outbox as a relay's lane reads and writes it. {@link sqlOutboxStore} is the real one;
 * tests drive a lane with a fake.
 */
export interface OutboxStore {
  /**
   * The next due rows of `shards` in seq order, at most `limit`, skipping the rows named per
   * shard in `sending` (see `claimBatch` in sql/claim-batch.ts and sql-mysql/claim-batch.ts).
   */
  claimBatch(
    shards: readonly number[],
    limit: number,
    sending: ReadonlyArray<readonly string[]> | undefined,
    probeHeldKeys: boolean,
  ): Promise<OutboxRow[]>;
  /** Marks rows published where `fence` still holds; answers the shards it held. */
  markPublished(fence: Fence, ids: readonly string[]): Promise<number[]>;
  /** Records failed attempts where `fence` still holds; answers the shards it held. */
  markFailed(fence: Fence, failures: readonly FailedAttempt[]): Promise<number[]>;
  /** Gives up `leases`, so other relays may claim them at once. */
  release(leases: readonly ShardLease[]): Promise<void>;
}

/** What {@link sqlOutboxStore} needs. */
export interface SqlOutboxStoreOptions {
  readonly knex: Knex;
  readonly tables: Tables;
  readonly relayId: string;
  /** Delete rows once published instead of marking them. */
  readonly deletePublished: boolean;
  /** A dead row holds its key (onDead 'block'). */
  readonly blockOnDead: boolean;
  /** The statements of the database's dialect (PostgreSQL or MySQL), chosen once by the relay. */
  readonly sql: RelaySql;
}

/** The {@link OutboxStore} of a PostgreSQL or MySQL outbox: one SQL function per operation. */
export function sqlOutboxStore(options: SqlOutboxStoreOptions): OutboxStore {
  const { knex, tables, relayId, deletePublished, blockOnDead, sql } = options;
  return {
    claimBatch: (shards, limit, sending, probeHeldKeys) => sql.claimBatch(knex, tables, shards, limit, sending, probeHeldKeys),
    markPublished: (fence, ids) => sql.markPublished(knex, tables, fence, ids, deletePublished),
    markFailed: (fence, failures) => sql.markFailed(knex, tables, fence, failures, blockOnDead),
    release: (leases) => sql.releaseShards(knex, tables, relayId, leases),
  };
}
