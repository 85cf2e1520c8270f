import { dialectOf, OptionError, requiredOption } from '@onceflow/core';
import type { Knex } from 'knex';
import type { PostgresLeaseStoreOptions } from './postgres-lease-store.ts';
import { PostgresLeaseStore } from './postgres-lease-store.ts';

/** Options of {@link MysqlLeaseStore}. */
export interface MysqlLeaseStoreOptions {
  /** The knex instance (client mysql2) holding Onceflow's tables. */
  knex?: Knex;
  /** The database holding Onceflow's tables. @defaultValue ONCEFLOW_SCHEMA, else "onceflow" */
  schema?: string;
}

/**
 * Side-effect records in the inbox table of MySQL 8 or MariaDB 10.6+, with fencing tokens:
 * the lease store of {@link PostgresLeaseStore} over MySQL's SQL (a new record by a plain
 * INSERT, an expired lease taken over by one conditional UPDATE that returns the raised token).
 * Refuses a knex of another dialect, so a configuration names the database it means.
 */
export class MysqlLeaseStore extends PostgresLeaseStore {
  constructor(options: MysqlLeaseStoreOptions) {
    const knex = requiredOption('knex', options.knex, 'a knex instance with client mysql2');
    if (dialectOf(knex) !== 'mysql')
      throw new OptionError('knex', 'a PostgreSQL knex', 'a knex with client mysql2 (MySQL 8, MariaDB 10.6+)');
    super(options as PostgresLeaseStoreOptions);
  }
}
