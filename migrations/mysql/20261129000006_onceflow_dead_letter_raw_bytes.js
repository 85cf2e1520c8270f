// @ts-check
/**
 * Onceflow schema for MySQL and MariaDB, version 6: dead letters keep the record's key and
 * headers as bytes (`raw_key`, `raw_headers`; see PostgreSQL's version 6 for why). LONGBLOB,
 * so no record content can make the insert fail. Each column is added only when missing, so
 * the migration can run again after stopping between the two.
 */
import { hasColumn, q, schemaOf, setVersion } from './ddl.js';

/** @param {import('knex').Knex} knex */
export async function up(knex) {
  const schema = schemaOf(knex);
  const s = q(schema);
  if (!(await hasColumn(knex, schema, 'dead_letters', 'raw_key'))) {
    await knex.raw(`alter table ${s}.dead_letters add column raw_key longblob`);
  }
  if (!(await hasColumn(knex, schema, 'dead_letters', 'raw_headers'))) {
    await knex.raw(`alter table ${s}.dead_letters add column raw_headers longblob`);
  }
  await setVersion(knex, schema, 6);
}

/** @param {import('knex').Knex} knex */
export async function down(knex) {
  const schema = schemaOf(knex);
  const s = q(schema);
  for (const column of ['raw_key', 'raw_headers']) {
    if (await hasColumn(knex, schema, 'dead_letters', column)) await knex.raw(`alter table ${s}.dead_letters drop column ${column}`);
  }
  await setVersion(knex, schema, 5);
}
