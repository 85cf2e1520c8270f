import type { Knex } from 'knex';
import { quoteIdentifier } from '../identifiers.ts';

/** A row of knex's bookkeeping table. */
export interface AppliedMigrationRow {
  name: string;
  migration_time: Date | null;
}

/** The migrations recorded in knex's bookkeeping table `table` of `schema`, in the order they were applied. */
export async function selectAppliedMigrations(knex: Knex, schema: string, table: string): Promise<AppliedMigrationRow[]> {
  const result = await knex.raw(`select name, migration_time from ${quoteIdentifier(schema)}.${quoteIdentifier(table)} order by id`);
  return result.rows as AppliedMigrationRow[];
}
