import { assertPeerVersion, checkSchemaVersion, missingSchemaError, OnceflowError } from '@onceflow/core';
import type { Knex } from 'knex';
import knexFactory from 'knex';
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
  assertPeerVersion('knex');
  // compileSqlOnError false: knex then prefixes the query's text without bindings, which the
  // listener below strips again; with bindings interpolated the prefix could not be found.
  const knex = knexFactory({
    client: 'pg',
    connection: checkDatabaseUrl(common.databaseUrl),
    pool: { min: 0, max: 2 },
    compileSqlOnError: false,
    // Knex prints pool and connection errors with their stack on its own; the command reports
    // the failure once, in one line.
    log: QUIET_KNEX,
  });
  knex.on('query-error', (error: unknown, query: { sql?: unknown }) => {
    // Knex writes the whole statement in front of PostgreSQL's message; an operator needs
    // PostgreSQL's message, and statements may hold values they should not see in a terminal.
    if (error instanceof Error && typeof query.sql === 'string') {
      const prefix = `${query.sql} - `;
      if (error.message.startsWith(prefix)) error.message = error.message.slice(prefix.length);
    }
  });
  try {
    if (options.checkSchema !== false) await checkSchemaVersion(knex, common.schema);
    return await work(knex);
  } catch (error) {
    // A table or the schema dropped after the check.
    throw missingSchemaError(error, common.schema) ?? error;
  } finally {
    await knex.destroy();
  }
}

/** Knex's own log, silenced: every failure reaches the command as an error it reports. */
export const QUIET_KNEX = { warn() {}, error() {}, deprecate() {}, debug() {} };

/**
 * `url` when it is a PostgreSQL connection string; a {@link UsageError} naming what is wrong
 * otherwise. The URL itself is never quoted: it may hold a password.
 */
export function checkDatabaseUrl(url: string): string {
  if (url.trim() === '') throw new UsageError('DATABASE_URL (or --database-url) is empty: give a postgres:// connection string');
  let protocol: string;
  try {
    protocol = new URL(url).protocol;
  } catch {
    throw new UsageError('DATABASE_URL (or --database-url) is not a URL: give a postgres://user@host:5432/database connection string');
  }
  if (protocol !== 'postgres:' && protocol !== 'postgresql:') {
    throw new UsageError(`DATABASE_URL (or --database-url) starts with "${protocol}//": Onceflow needs a postgres:// connection string`);
  }
  return url;
}

/** The one line `onceflow` prints for a failure, with the error's stable code when it has one. */
export function failureLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const tag = error instanceof OnceflowError ? ` [${error.code}]` : '';
  return `${printable(message)}${tag}`;
}
