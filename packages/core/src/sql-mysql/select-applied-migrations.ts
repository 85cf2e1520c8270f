import type { Knex } from 'knex';
import { quoteMysqlIdentifier } from '../schema-mysql.ts';
import type { AppliedMigrationRow } from '../sql/select-applied-migrations.ts';

/** The migrations recorded in knex's bookkeeping table `table` of the MySQL database `schema`, in the order they were applied. */
export async function selectAppliedMigrations(knex: Knex, schema: string, table: string): Promise<AppliedMigrationRow[]> {
  const [rows] = (await knex.raw(
    `select name, migration_time from ${quoteMysqlIdentifier(schema)}.${quoteMysqlIdentifier(table)} order by id`,
  )) as [AppliedMigrationRow[]];
  return rows;
}
