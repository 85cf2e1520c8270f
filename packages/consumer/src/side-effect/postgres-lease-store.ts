import type { Tables } from '@onceflow/core';
import { defaultSchema, requiredOption } from '@onceflow/core';
import type { Knex } from 'knex';
import { LeaseStoreError } from '../errors.ts';
import type { InboxSql } from '../inbox-sql.ts';
import { inboxSqlAndTables } from '../inbox-sql.ts';
import type { LeaseAcquisition, LeaseStore } from './lease-store.ts';
import type { MysqlLeaseStore } from './mysql-lease-store.ts';

/** Options of {@link PostgresLeaseStore}. */
export interface PostgresLeaseStoreOptions {
  /** The knex instance holding Onceflow's tables (client pg, or mysql2 for MySQL 8 and MariaDB 10.6+). */
  knex?: Knex;
  /** Schema holding Onceflow's tables (on MySQL and MariaDB, the database). @defaultValue ONCEFLOW_SCHEMA, else "onceflow" */
  schema?: string;
}

/**
 * Side-effect records in the inbox table (status `processing`/`done`, lease_until,
 * fencing_token), in the SQL of the knex's dialect: PostgreSQL, or MySQL and MariaDB (where
 * {@link MysqlLeaseStore} names the same store).
 */
export class PostgresLeaseStore implements LeaseStore {
  readonly #knex: Knex;
  readonly #tables: Tables;
  readonly #sql: InboxSql;

  constructor(options: PostgresLeaseStoreOptions) {
    this.#knex = requiredOption('knex', options.knex, 'a knex instance');
    const { sql, tables } = inboxSqlAndTables(this.#knex, options.schema ?? defaultSchema());
    this.#sql = sql;
    this.#tables = tables;
  }

  async acquire(consumer: string, dedupKey: string, leaseMs: number): Promise<LeaseAcquisition> {
    try {
      // Two rounds at most: a record pruned between the statements is simply taken next time.
      for (let round = 0; round < 2; round++) {
        const token = await this.#sql.acquireLease(this.#knex, this.#tables, consumer, dedupKey, leaseMs);
        if (token !== null) return { state: 'acquired', fencingToken: token };
        const state = await this.#sql.leaseState(this.#knex, this.#tables, consumer, dedupKey);
        if (state?.status === 'done') return { state: 'done' };
        if (state !== undefined) return { state: 'busy', retryInMs: Math.ceil(state.remaining_ms) };
      }
      return { state: 'busy', retryInMs: 0 };
    } catch (error) {
      throw new LeaseStoreError('acquire', error);
    }
  }

  complete(consumer: string, dedupKey: string, fencingToken: number): Promise<boolean> {
    return this.#change('complete', consumer, dedupKey, fencingToken);
  }

  release(consumer: string, dedupKey: string, fencingToken: number): Promise<boolean> {
    return this.#change('release', consumer, dedupKey, fencingToken);
  }

  extend(consumer: string, dedupKey: string, fencingToken: number, leaseMs: number): Promise<boolean> {
    return this.#change('extend', consumer, dedupKey, fencingToken, leaseMs);
  }

  async isDone(consumer: string, dedupKey: string): Promise<boolean> {
    try {
      return await this.#sql.selectDone(this.#knex, this.#tables, consumer, dedupKey);
    } catch (error) {
      throw new LeaseStoreError('isDone', error);
    }
  }

  async #change(change: 'complete' | 'release' | 'extend', consumer: string, dedupKey: string, token: number, leaseMs = 0) {
    try {
      return await this.#sql.updateLease(this.#knex, this.#tables, change, consumer, dedupKey, token, leaseMs);
    } catch (error) {
      throw new LeaseStoreError(change, error);
    }
  }
}
