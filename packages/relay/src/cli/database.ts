import {
  assertIdentifier,
  assertPeerVersion,
  checkSchemaVersion,
  missingSchemaError,
  mysqlMissingSchemaError,
  OnceflowError,
  OptionError,
} from '@onceflow/core';
import type { Knex } from 'knex';
import knexFactory from 'knex';
import type { DatabaseConnection } from '../database-url.ts';
import { connectionError, databaseConnection, unsupportedSqlError } from '../database-url.ts';
import type { CommonFlags } from './args.ts';
import { UsageError } from './args.ts';
import { printable } from './printable.ts';

/** Whether {@link withKnex} checks the schema version before running the command. */
export interface WithKnexOptions {
  /** @defaultValue true; `migrate` turns it off, as it is the fix. */
  checkSchema?: boolean;
}

/**
 * Runs `work` with a small knex pool on the command's database, after checking that the schema
 * holds Onceflow's tables at the version this release understands, so a missing or outdated
 * schema is reported in one line that names `onceflow migrate`, never as a failed query.
 */
export async function withKnex<T>(common: CommonFlags, work: (knex: Knex) => Promise<T>, options: WithKnexOptions = {}): Promise<T> {
  const db = commandDatabase(common);
  assertPeerVersion('knex');
  assertPeerVersion(db.client);
  // compileSqlOnError false: knex then prefixes the query's text without bindings, which the
  // listener below strips again; with bindings interpolated the prefix could not be found.
  const knex = knexFactory({
    client: db.client,
    connection: db.connection,
    pool: { min: 0, max: 2 },
    compileSqlOnError: false,
    // Knex prints pool and connection errors with their stack on its own; the command reports
    // the failure once, in one line.
    log: QUIET_KNEX,
  });
  knex.on('query-error', (error: unknown, query: { sql?: unknown }) => {
    // Knex writes the whole statement in front of the server's message; an operator needs the
    // server's message, and statements may hold values they should not see in a terminal.
    if (error instanceof Error && typeof query.sql === 'string') {
      const prefix = `${query.sql} - `;
      if (error.message.startsWith(prefix)) error.message = error.message.slice(prefix.length);
    }
  });
  try {
    // One statement first, so a server that is down or not of the URL's kind is reported as
    // that, never as the failure of the command's first query.
    await knex.raw('select 1').catch((error: unknown) => {
      throw connectionError(error, db);
    });
    if (options.checkSchema !== false) await checkSchemaVersion(knex, common.schema);
    return await work(knex);
  } catch (error) {
    // A table or the schema dropped after the check.
    throw MISSING_SCHEMA[db.dialect](error, common.schema) ?? unsupportedSqlError(error, db);
  } finally {
    await knex.destroy();
  }
}

/** "Onceflow's tables are missing" per dialect, from the server's error. */
const MISSING_SCHEMA = { postgres: missingSchemaError, mysql: mysqlMissingSchemaError } as const;

/**
 * The database of a command: its URL (a {@link UsageError} naming what is wrong when it is not
 * a postgres://, mysql:// or mariadb:// URL) and its Onceflow schema, checked as a schema name
 * on PostgreSQL and as a database name on MySQL.
 */
export function commandDatabase(common: CommonFlags): DatabaseConnection {
  const db = checkDatabaseUrl(common.databaseUrl);
  if (db.dialect === 'postgres') {
    assertIdentifier('schema', common.schema);
  } else if (typeof common.schema !== 'string' || !/^[a-z_][a-z0-9_]{0,62}$/.test(common.schema)) {
    // Onceflow quotes only names that need no escaping; MySQL would take more.
    throw new OptionError(
      'schema',
      common.schema,
      "the MySQL/MariaDB database for Onceflow's tables: 1-63 lower-case letters, digits or underscores, starting with a letter or underscore",
    );
  }
  return db;
}

/** Knex's own log, silenced: every failure reaches the command as an error it reports. */
export const QUIET_KNEX = { warn() {}, error() {}, deprecate() {}, debug() {} };

/**
 * The knex settings of `url` when it is a PostgreSQL, MySQL or MariaDB connection string; a
 * {@link UsageError} naming what is wrong otherwise. The URL itself is never quoted: it may
 * hold a password.
 */
export function checkDatabaseUrl(url: string): DatabaseConnection {
  const examples = 'postgres://user@host:5432/database, or mysql://user:password@host:3306/database (also mariadb://)';
  if (url.trim() === '') throw new UsageError(`DATABASE_URL (or --database-url) is empty: give a connection string such as ${examples}`);
  let protocol: string;
  try {
    protocol = new URL(url).protocol;
  } catch {
    throw new UsageError(`DATABASE_URL (or --database-url) is not a URL: give a connection string such as ${examples}`);
  }
  try {
    return databaseConnection(url, 'DATABASE_URL (or --database-url)');
  } catch (error) {
    const detail = error instanceof OnceflowError ? error.message : String(error);
    throw new UsageError(
      protocol in URL_SCHEMES ? detail : `DATABASE_URL (or --database-url) starts with "${protocol}//": Onceflow needs ${examples}`,
    );
  }
}

const URL_SCHEMES = { 'postgres:': true, 'postgresql:': true, 'mysql:': true, 'mariadb:': true };

/** The one line `onceflow` prints for a failure, with the error's stable code when it has one. */
export function failureLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const tag = error instanceof OnceflowError ? ` [${error.code}]` : '';
  return `${printable(message)}${tag}`;
}
