import type { Tables } from '@onceflow/core';
import { dialectOf } from '@onceflow/core';
import type { Knex } from 'knex';
import { mysqlChaosSql } from './chaos-sql-mysql.ts';
import { postgresChaosSql } from './chaos-sql-postgres.ts';
import type { PgScope } from './schedule.ts';

/**
 * The chaos run's SQL that differs between PostgreSQL and MySQL/MariaDB, one statement per
 * function: the tables of tables.ts, the producer's and the handler's statements, the drain and
 * checker reads the two servers spell differently, and the faults done in SQL. Picked once per
 * knex by {@link chaosSqlFor}; everything else in the suite is the same on both servers.
 */
export interface ChaosSql {
  /** The run's tables (see tables.ts), one statement each, in order. */
  readonly createTables: readonly string[];
  /** One row per (topic, key) in `table` (chaos_keys or chaos_balance), all counters 0. */
  seedKeys(knex: Knex, table: 'chaos_keys' | 'chaos_balance', topics: readonly string[], keys: readonly string[]): Promise<void>;
  /** Locks the chaos_keys rows of `keys` (sorted by topic, then key) in that order and reads their last sequences. */
  lockKeys(trx: Knex.Transaction, keys: readonly KeyRef[]): Promise<KeySeq[]>;
  /** Sets the last sequence of each key (rows locked by {@link lockKeys}). */
  setKeySeqs(trx: Knex.Transaction, keys: readonly KeySeq[]): Promise<void>;
  /** The business rows of a producer transaction. */
  insertSent(trx: Knex.Transaction, rows: readonly SentRow[]): Promise<void>;
  /** True when the business row of idempotency key `ik` committed. */
  isSent(knex: Knex, ik: string): Promise<boolean>;
  /** Records the idempotency keys of a transaction rolled back on purpose (again: no error). */
  recordRolledBack(knex: Knex, iks: readonly string[], tx: string): Promise<void>;
  /** Locks a key's chaos_balance row and reads the sequence applied last (undefined: no such row). */
  lockBalance(trx: Knex.Transaction, topic: string, key: string): Promise<number | undefined>;
  /**
   * The idempotency key a dead letter `d` names, as an SQL expression comparable with
   * `chaos_sent.ik`: its dedup key, else its idempotency-key header.
   */
  readonly deadLetterIk: string;
  /** The three counts the drain waits on to reach 0 (outbox in `tables`, dead letters of `consumerName`). */
  drainState(knex: Knex, tables: Tables, consumerName: string): Promise<DrainState>;
  /** The first column of the first row of a count query. */
  count(knex: Knex, sql: string, bindings?: readonly unknown[]): Promise<number>;
  /**
   * Makes the roles' sessions in `database` killable by role: on MySQL, where sessions carry no
   * application name, one user per role (see chaos-sql-mysql.ts); nothing on PostgreSQL.
   */
  prepareRoles(knex: Knex, database: string): Promise<void>;
  /** Undoes {@link prepareRoles} for `database`. */
  releaseRoles(knex: Knex, database: string): Promise<void>;
  /**
   * Ends the sessions of `scope`'s processes in the run's database (never the harness's own):
   * the `terminate-pg` fault. Returns how many it ended.
   */
  killSessions(knex: Knex, scope: PgScope): Promise<number>;
  /** Sets `percent`% of the published outbox rows, scattered by `salt`, back to pending: the duplicate storm. Returns the rows. */
  republish(knex: Knex, tables: Tables, salt: number, percent: number): Promise<number>;
}

/** A producer key. */
export interface KeyRef {
  readonly topic: string;
  readonly key: string;
}

/** A producer key with its last sequence. */
export interface KeySeq extends KeyRef {
  readonly seq: number;
}

/** A row of chaos_sent. */
export interface SentRow {
  readonly ik: string;
  readonly tx: string;
  readonly worker: number;
  readonly topic: string;
  readonly key: string;
  readonly seq: number;
  readonly poison: boolean;
}

/** What the drain waits for: all three 0. */
export interface DrainState {
  /** Outbox rows still pending. */
  pending: number;
  /** Committed, non-poison messages without an effect yet. */
  unhandled: number;
  /** Poison messages without a dead letter yet. */
  unparked: number;
}

/** The chaos SQL for `knex`'s server. */
export function chaosSqlFor(knex: Knex): ChaosSql {
  return dialectOf(knex) === 'mysql' ? mysqlChaosSql : postgresChaosSql;
}
