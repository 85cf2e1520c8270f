// @ts-check
/**
 * Onceflow schema, version 6: dead letters keep the record's key and headers as bytes.
 *
 * `key` (text) and `headers` (jsonb, one text value per name) hold what a person reads, made
 * storable; they lose what Kafka carried: a binary key decoded as UTF-8 is another key (and
 * may hash to another partition), and a repeated header kept only its first value. Replay
 * sends `raw_key` and `raw_headers` (every header in order, null values too, framed by
 * length) when they are set. Both are bytea, so no record content can make the insert fail.
 * Rows parked before this version have neither and replay as before.
 */

/** @param {import('knex').Knex} knex */
function schemaOf(knex) {
  const name = knex.userParams?.schema ?? process.env.ONCEFLOW_SCHEMA ?? 'onceflow';
  if (typeof name !== 'string' || !/^[a-z_][a-z0-9_]{0,62}$/.test(name)) {
    throw new Error(`Invalid Onceflow schema name ${JSON.stringify(name)}: use 1-63 lower-case letters, digits or underscores`);
  }
  return name;
}

/** @param {import('knex').Knex} knex */
export async function up(knex) {
  const s = `"${schemaOf(knex)}"`;
  await knex.raw(`alter table ${s}.dead_letters add column if not exists raw_key bytea, add column if not exists raw_headers bytea`);
  await knex.raw(`update ${s}.meta set value = '6' where name = 'schema_version'`);
}

/** @param {import('knex').Knex} knex */
export async function down(knex) {
  const s = `"${schemaOf(knex)}"`;
  await knex.raw(`alter table ${s}.dead_letters drop column if exists raw_key, drop column if exists raw_headers`);
  await knex.raw(`update ${s}.meta set value = '5' where name = 'schema_version'`);
}
