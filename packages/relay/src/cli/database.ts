import { checkSchemaVersion, OnceflowError, SCHEMA_VERSION, SchemaVersionError } from '@onceflow/core';
import type { Knex } from 'knex';
import knexFactory from 'knex';
import type { CommonFlags } from './args.ts';
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
  // compileSqlOnError false: knex then prefixes the query's text without bindings, which the
  // listener below strips again; with bindings interpolated the prefix could not be found.
  const knex = knexFactory({ client: 'pg', connection: common.databaseUrl, pool: { min: 0, max: 2 }, compileSqlOnError: false });
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
    // A table or the schema dropped after the check: 42P01 undefined_table, 3F000 invalid_schema_name.
    const code = (error as { code?: unknown } | null)?.code;
    if (code === '42P01' || code === '3F000') throw new SchemaVersionError(common.schema, null, SCHEMA_VERSION);
    throw error;
  } finally {
    await knex.destroy();
  }
}

/** The one line `onceflow` prints for a failure, with the error's stable code when it has one. */
export function failureLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const tag = error instanceof OnceflowError ? ` [${error.code}]` : '';
  return `${printable(message)}${tag}`;
}
