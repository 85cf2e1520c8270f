import type { Knex } from 'knex';
import knexFactory from 'knex';
import type { TestDatabase } from './database.ts';
import { resultRows, uniqueName } from './database.ts';

/**
 * The MariaDB (or MySQL) server the MySQL-dialect tests use: MARIADB_URL, else the local
 * MariaDB that scripts/services.sh starts.
 */
export const MARIADB_URL = process.env.MARIADB_URL ?? 'mysql://root@127.0.0.1:3306';

/**
 * Opens a mysql2 knex pool on the server of MARIADB_URL, on `database` when given; `sessionSql`
 * runs on each new connection (session settings).
 */
export function connectMariadb(database?: string, pool = 10, sessionSql?: string): Knex {
  const url = new URL(MARIADB_URL);
  return knexFactory({
    client: 'mysql2',
    connection: {
      host: url.hostname,
      port: Number(url.port || 3306),
      user: decodeURIComponent(url.username || 'root'),
      password: decodeURIComponent(url.password),
      ...(database === undefined ? {} : { database }),
    },
    pool: {
      min: 0,
      max: pool,
      ...(sessionSql === undefined
        ? {}
        : {
            afterCreate: (
              connection: { query(sql: string, done: (error: Error | null) => void): void },
              done: (error: Error | null, c: unknown) => void,
            ) => connection.query(sessionSql, (error) => done(error, connection)),
          }),
    },
  });
}

/**
 * A fresh MariaDB database of its own for one test file (named `onceflow_test_<random>`, also
 * the Onceflow schema the tests pass), and a pool on it; `drop()` removes it.
 */
export async function createMariadbDatabase(pool = 10): Promise<TestDatabase> {
  const name = uniqueName('onceflow_test');
  const admin = connectMariadb(undefined, 1);
  try {
    await admin.raw(`create database \`${name}\` character set utf8mb4 collate utf8mb4_bin`);
  } finally {
    await admin.destroy();
  }
  const knex = connectMariadb(name, pool);
  return {
    name,
    url: `${MARIADB_URL.replace(/\/$/, '')}/${name}`,
    knex,
    dialect: 'mysql',
    schema: name,
    async rows(sql, bindings = []) {
      return resultRows(await knex.raw(sql, bindings as Knex.RawBinding[]));
    },
    async drop() {
      await knex.destroy();
      const admin2 = connectMariadb(undefined, 1);
      try {
        await admin2.raw(`drop database if exists \`${name}\``);
      } finally {
        await admin2.destroy();
      }
    },
  };
}

/** The rows of a mysql2 `knex.raw` result (`[rows, fields]`). */
export function rowsOf<Row = Record<string, unknown>>(result: unknown): Row[] {
  return (result as [Row[]])[0];
}
