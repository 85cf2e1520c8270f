// @ts-check
/**
 * Onceflow schema for MySQL and MariaDB, version 3: one parked copy per message in
 * `dead_letters`. On PostgreSQL this version added the unique (consumer, dedup_key) index for
 * databases created before version 1 had it; every MySQL database has it from version 1, and
 * this creates it only where it is missing.
 */
import { indexColumns, q, schemaOf, setVersion } from './ddl.js';

/** @param {import('knex').Knex} knex */
export async function up(knex) {
  const schema = schemaOf(knex);
  if ((await indexColumns(knex, schema, 'dead_letters', 'dead_letters_dedup_key')).length === 0) {
    await knex.raw(`alter table ${q(schema)}.dead_letters add unique key dead_letters_dedup_key (consumer, dedup_key, live)`);
  }
  await setVersion(knex, schema, 3);
}

/** Back to version 2; the index stays, as on PostgreSQL. @param {import('knex').Knex} knex */
export async function down(knex) {
  await setVersion(knex, schemaOf(knex), 2);
}
