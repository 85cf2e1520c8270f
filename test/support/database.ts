import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import knexFactory from 'knex';
import { createMariadbDatabase } from './mariadb.ts';

/**
 * The database the matrix tests run on: ONCEFLOW_TEST_DB, `postgres` (the default) or
 * `mariadb` (MariaDB 10.6+ or MySQL 8 through knex's mysql2 client). The `mariadb` vitest
 * project sets it; a test file written for the matrix takes everything database-specific from
 * {@link TestDatabase} and runs unchanged on both.
 */
export const TEST_DB: 'postgres' | 'mariadb' = parseTestDb(process.env.ONCEFLOW_TEST_DB);

function parseTestDb(value: string | undefined): 'postgres' | 'mariadb' {
  if (value === undefined || value === '' || value === 'postgres') return 'postgres';
  if (value === 'mariadb' || value === 'mysql') return 'mariadb';
  throw new Error(`ONCEFLOW_TEST_DB=${JSON.stringify(value)}: use postgres or mariadb`);
}

/** The server tests use: DATABASE_URL, else the local PostgreSQL. */
export const SERVER_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** A fresh database of its own for one test file; `drop()` removes it. */
export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  readonly knex: Knex;
  /** The SQL dialect of {@link knex}. */
  readonly dialect: 'postgres' | 'mysql';
  /**
   * The Onceflow schema to pass to every component: `onceflow` on PostgreSQL (a schema inside
   * this database), the database itself on MariaDB (where a database is the schema).
   */
  readonly schema: string;
  /** The rows of `sql`, whatever the driver's result shape. */
  rows<Row = Record<string, unknown>>(sql: string, bindings?: readonly unknown[]): Promise<Row[]>;
  drop(): Promise<void>;
}

/** A random lower-case name with a prefix, safe as identifier, topic and group id. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`;
}

/** Opens a knex pool on `url`. */
export function connect(url: string, pool = 10): Knex {
  return knexFactory({ client: 'pg', connection: url, pool: { min: 0, max: pool } });
}

/** The rows of a `knex.raw` result of either client (pg: `{ rows }`, mysql2: `[rows, fields]`). */
export function resultRows<Row = Record<string, unknown>>(result: unknown): Row[] {
  if (Array.isArray(result)) return result[0] as Row[];
  return (result as { rows: Row[] }).rows;
}

/**
 * Creates a new empty database of {@link TEST_DB} (PostgreSQL unless the matrix says
 * otherwise) and a pool on it.
 */
export async function createTestDatabase(pool = 10): Promise<TestDatabase> {
  return TEST_DB === 'mariadb' ? createMariadbDatabase(pool) : createPostgresDatabase(pool);
}

/** Creates a new empty PostgreSQL database and a pool on it, whatever the matrix runs on. */
export async function createPostgresDatabase(pool = 10): Promise<TestDatabase> {
  const name = uniqueName('onceflow_test');
  const admin = connect(SERVER_URL, 1);
  try {
    await admin.raw(`create database "${name}"`);
  } finally {
    await admin.destroy();
  }
  const url = withDatabase(SERVER_URL, name);
  const knex = connect(url, pool);
  return {
    name,
    url,
    knex,
    dialect: 'postgres',
    schema: 'onceflow',
    async rows(sql, bindings = []) {
      return resultRows(await knex.raw(sql, bindings as Knex.RawBinding[]));
    },
    async drop() {
      await knex.destroy();
      const admin2 = connect(SERVER_URL, 1);
      try {
        await admin2.raw(`drop database if exists "${name}" with (force)`);
      } finally {
        await admin2.destroy();
      }
    },
  };
}
