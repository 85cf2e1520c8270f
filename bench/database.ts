// The database a bench runs on, from its `--db postgres|mariadb` argument: a fresh database of
// its own on the server the tests use (DATABASE_URL or the local PostgreSQL; MARIADB_URL or
// the local MariaDB), dropped at the end.
import type { Knex } from 'knex';
import knexFactory from 'knex';
import type { TestDatabase } from '../test/support/database.ts';
import { createPostgresDatabase } from '../test/support/database.ts';
import { connectMariadb, createMariadbDatabase } from '../test/support/mariadb.ts';

export type BenchDb = 'postgres' | 'mariadb';

/** `args` without `--db X`, and X (postgres when absent); throws naming a bad value. */
export function takeDbArg(args: readonly string[]): { db: BenchDb; rest: string[] } {
  const rest = [...args];
  const at = rest.indexOf('--db');
  if (at === -1) return { db: 'postgres', rest };
  const value = rest[at + 1];
  if (value !== 'postgres' && value !== 'mariadb') {
    throw new Error(`--db ${JSON.stringify(value ?? '')}: use --db postgres or --db mariadb`);
  }
  rest.splice(at, 2);
  return { db: value, rest };
}

/** A fresh database on `db`'s server with a pool of `pool` connections. */
export function benchDatabase(db: BenchDb, pool: number): Promise<TestDatabase> {
  return db === 'mariadb' ? createMariadbDatabase(pool) : createPostgresDatabase(pool);
}

/** Refreshes the planner's statistics of `table` (a qualified name), as after a bulk load. */
export async function analyze(database: TestDatabase, table: string): Promise<void> {
  await database.knex.raw(database.dialect === 'mysql' ? `analyze table ${table}` : `analyze ${table}`);
}

/**
 * A knex pool on `url` (a TestDatabase's url: postgres://… or mysql://…/<database>), with the
 * Onceflow schema that database uses, for bench processes that get only the url.
 */
export function connectUrl(url: string, pool: number): { knex: Knex; schema: string } {
  const u = new URL(url);
  if (u.protocol === 'mysql:') {
    // The server is MARIADB_URL's (the url was made from it); the path names the database.
    const database = u.pathname.replace(/^\//, '');
    return { knex: connectMariadb(database, pool), schema: database };
  }
  return { knex: knexFactory({ client: 'pg', connection: url, pool: { min: 0, max: pool } }), schema: 'onceflow' };
}
