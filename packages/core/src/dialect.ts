import type { Knex } from 'knex';
import { OptionError } from './errors.ts';
import { knexClientName } from './knex-adapter.ts';

/**
 * The SQL dialect of a knex instance: `'postgres'` (PostgreSQL) or `'mysql'` (MySQL 8 and
 * MariaDB 10.6+, which share one dialect; where they differ the SQL uses what both accept).
 */
export type Dialect = 'postgres' | 'mysql';

/** Knex client names per dialect, as given in knex's `client` option. */
const CLIENTS: Readonly<Record<string, Dialect>> = {
  pg: 'postgres',
  postgres: 'postgres',
  postgresql: 'postgres',
  // knex's client over libpq (pg-native): the same server and SQL.
  pgnative: 'postgres',
  mysql2: 'mysql',
  mysql: 'mysql',
};

/** Dialects already decided, per knex client (a pool and its transactions share one). */
const decided = new WeakMap<object, Dialect>();

/**
 * The dialect of `knex` (a pool or a transaction), decided from knex's `client` option the first
 * time this client is seen and remembered after that. Every Onceflow component that has SQL
 * of its own for MySQL picks it here, once, instead of testing the database at each query.
 *
 * Throws {@link OptionError} naming the client for anything else (SQLite, SQL Server,
 * CockroachDB, Redshift...): Onceflow's locking and ordering arguments are made for PostgreSQL
 * and InnoDB only, and a dialect that merely parses the SQL would break them silently.
 */
export function dialectOf(knex: Knex | Knex.Transaction): Dialect {
  const client = (knex as { client?: unknown }).client;
  if (client === null || typeof client !== 'object') {
    throw new OptionError('knex', knex, 'a knex instance or transaction');
  }
  const known = decided.get(client);
  if (known !== undefined) return known;
  const name = knexClientName(client);
  const dialect = name === undefined ? undefined : CLIENTS[name];
  if (dialect === undefined) {
    throw new OptionError(
      'knex',
      `a knex with client ${JSON.stringify(name ?? '(unknown)')}`,
      'a knex with client "pg" (PostgreSQL) or "mysql2" (MySQL 8, MariaDB 10.6+)',
    );
  }
  decided.set(client, dialect);
  return dialect;
}
