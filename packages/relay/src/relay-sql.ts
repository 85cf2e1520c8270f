import type { Dialect, Tables } from '@onceflow/core';
import { dialectOf, mysqlTablesFor, tablesFor } from '@onceflow/core';
import type { Knex } from 'knex';
import type { OutboxRow } from './sql/claim-batch.ts';
import * as pgClaimBatch from './sql/claim-batch.ts';
import type { ShardLease } from './sql/claim-shards.ts';
import * as pgClaimShards from './sql/claim-shards.ts';
import type { DeadFilter, DeadRow } from './sql/dead-messages.ts';
import * as pgDead from './sql/dead-messages.ts';
import type { Fence } from './sql/fence.ts';
import * as pgHeartbeat from './sql/heartbeat.ts';
import type { FailedAttempt } from './sql/mark-failed.ts';
import * as pgMarkFailed from './sql/mark-failed.ts';
import * as pgMarkPublished from './sql/mark-published.ts';
import type { TopicStatusRow } from './sql/outbox-status.ts';
import * as pgStatus from './sql/outbox-status.ts';
import * as pgTopics from './sql/outbox-topics.ts';
import * as pgPrune from './sql/prune-outbox.ts';
import * as pgPurge from './sql/purge-dead.ts';
import * as pgRequeue from './sql/requeue-dead.ts';
import * as pgHolding from './sql/shards-holding-keys.ts';
import * as myClaimBatch from './sql-mysql/claim-batch.ts';
import * as myClaimShards from './sql-mysql/claim-shards.ts';
import * as myDead from './sql-mysql/dead-messages.ts';
import * as myHeartbeat from './sql-mysql/heartbeat.ts';
import * as myMarkFailed from './sql-mysql/mark-failed.ts';
import * as myMarkPublished from './sql-mysql/mark-published.ts';
import * as myStatus from './sql-mysql/outbox-status.ts';
import * as myTopics from './sql-mysql/outbox-topics.ts';
import * as myKeyLocks from './sql-mysql/prune-key-locks.ts';
import * as myPrune from './sql-mysql/prune-outbox.ts';
import * as myPurge from './sql-mysql/purge-dead.ts';
import * as myRequeue from './sql-mysql/requeue-dead.ts';
import * as myHolding from './sql-mysql/shards-holding-keys.ts';

/**
 * Every statement the relay and its admin functions run, in one dialect: the one seam between
 * the relay's logic and its database. PostgreSQL's statements are in `sql/`, MySQL's and
 * MariaDB's in `sql-mysql/`, one statement (or one short transaction) per function with the
 * same signature; {@link relaySqlFor} picks the set once from knex's client.
 */
export interface RelaySql {
  readonly dialect: Dialect;
  /** The quoted table names of `schema` in this dialect. */
  tables(schema: string): Tables;
  /**
   * PostgreSQL: producers NOTIFY and relays LISTEN. MySQL: none; relays poll adaptively and
   * are woken by producers of the same process.
   */
  readonly notifies: boolean;
  claimBatch(
    knex: Knex,
    tables: Tables,
    shards: readonly number[],
    limit: number,
    sending: ReadonlyArray<readonly string[]> | undefined,
    probeHeldKeys: boolean,
  ): Promise<OutboxRow[]>;
  markPublished(knex: Knex, tables: Tables, fence: Fence, ids: readonly string[], deletePublished: boolean): Promise<number[]>;
  markFailed(knex: Knex, tables: Tables, fence: Fence, failures: readonly FailedAttempt[], blockOnDead: boolean): Promise<number[]>;
  claimShards(knex: Knex, tables: Tables, relayId: string, limit: number, leaseMs: number): Promise<ShardLease[]>;
  renewShards(knex: Knex, tables: Tables, relayId: string, leases: readonly ShardLease[], leaseMs: number): Promise<number[]>;
  releaseShards(knex: Knex, tables: Tables, relayId: string, leases: readonly ShardLease[]): Promise<void>;
  heartbeat(knex: Knex, tables: Tables, relayId: string, leaseMs: number): Promise<number>;
  unregister(knex: Knex, tables: Tables, relayId: string): Promise<void>;
  shardsHoldingKeys(knex: Knex, tables: Tables, shards: readonly number[]): Promise<Set<number>>;
  selectShardBacklog(
    knex: Knex,
    tables: Tables,
    shards: readonly number[],
  ): Promise<{ backlog: number; oldestPendingAgeMs: number | null }>;
  selectOutboxStatus(knex: Knex, tables: Tables): Promise<TopicStatusRow[]>;
  selectOutboxTopics(knex: Knex, tables: Tables, limit: number): Promise<string[]>;
  pruneBatch(knex: Knex, tables: Tables, olderThanMs: number, limit: number): Promise<number>;
  /**
   * Deletes up to `limit` unheld producer key-lock rows after `after`; answers where to go on
   * (null: done). Only MySQL has such rows (PostgreSQL's advisory locks leave nothing behind).
   */
  pruneKeyLocks?(knex: Knex, tables: Tables, after: string | null, limit: number): Promise<string | null>;
  selectDead(knex: Knex, tables: Tables, filter: DeadFilter, afterSeq: string, limit: number): Promise<DeadRow[]>;
  requeueDeadBatch(knex: Knex, tables: Tables, filter: DeadFilter, limit: number): Promise<string[]>;
  purgeDeadBatch(knex: Knex, tables: Tables, filter: DeadFilter, limit: number): Promise<number>;
}

/** The relay's PostgreSQL statements (`sql/`). */
export const postgresRelaySql: RelaySql = {
  dialect: 'postgres',
  tables: (schema) => tablesFor(schema),
  notifies: true,
  claimBatch: pgClaimBatch.claimBatch,
  markPublished: pgMarkPublished.markPublished,
  markFailed: pgMarkFailed.markFailed,
  claimShards: pgClaimShards.claimShards,
  renewShards: pgClaimShards.renewShards,
  releaseShards: pgClaimShards.releaseShards,
  heartbeat: pgHeartbeat.heartbeat,
  unregister: pgHeartbeat.unregister,
  shardsHoldingKeys: pgHolding.shardsHoldingKeys,
  selectShardBacklog: pgStatus.selectShardBacklog,
  selectOutboxStatus: pgStatus.selectOutboxStatus,
  selectOutboxTopics: pgTopics.selectOutboxTopics,
  pruneBatch: pgPrune.pruneBatch,
  selectDead: pgDead.selectDead,
  requeueDeadBatch: pgRequeue.requeueDeadBatch,
  purgeDeadBatch: pgPurge.purgeDeadBatch,
};

/** The relay's MySQL 8 and MariaDB 10.6+ statements (`sql-mysql/`). */
export const mysqlRelaySql: RelaySql = {
  dialect: 'mysql',
  tables: (schema) => mysqlTablesFor(schema),
  notifies: false,
  claimBatch: myClaimBatch.claimBatch,
  markPublished: myMarkPublished.markPublished,
  markFailed: myMarkFailed.markFailed,
  claimShards: myClaimShards.claimShards,
  renewShards: myClaimShards.renewShards,
  releaseShards: myClaimShards.releaseShards,
  heartbeat: myHeartbeat.heartbeat,
  unregister: myHeartbeat.unregister,
  shardsHoldingKeys: myHolding.shardsHoldingKeys,
  selectShardBacklog: myStatus.selectShardBacklog,
  selectOutboxStatus: myStatus.selectOutboxStatus,
  selectOutboxTopics: myTopics.selectOutboxTopics,
  pruneBatch: myPrune.pruneBatch,
  pruneKeyLocks: (knex, tables, after, limit) => myKeyLocks.pruneKeyLocks(knex, mysqlTablesFor(tables.schema), after, limit),
  selectDead: myDead.selectDead,
  requeueDeadBatch: myRequeue.requeueDeadBatch,
  purgeDeadBatch: myPurge.purgeDeadBatch,
};

/** The relay's statements for the database of `knex`, decided once per knex client by {@link dialectOf}. */
export function relaySqlFor(knex: Knex): RelaySql {
  return dialectOf(knex) === 'mysql' ? mysqlRelaySql : postgresRelaySql;
}
