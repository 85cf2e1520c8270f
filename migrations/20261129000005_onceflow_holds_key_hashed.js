// @ts-check
/**
 * Onceflow schema, version 5: the `outbox_holds_key` index holds a hash of the key.
 *
 * A row that fails to publish holds its key (later rows of the key wait for it), which puts
 * (topic, key, seq) into this partial index. PostgreSQL refuses an index entry above about
 * 2,700 bytes (54000), so a row with a long key (written before the producer limited keys in
 * bytes, or by another writer) could never be marked failed: it never went dead and its lane
 * backed off for ever. The index now holds `hashtextextended(key, 0)`, a bigint, and the
 * relay's probe compares the hash (to use the index) and then the key itself (so two keys
 * with one hash never hold each other). hashtextextended is immutable and stable across
 * PostgreSQL versions (hash partitioning relies on it), and unlike md5 it works on servers in
 * FIPS mode.
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
  await knex.raw(`drop index if exists ${s}.outbox_holds_key`);
  await knex.raw(`create index outbox_holds_key on ${s}.outbox (topic, hashtextextended(key, 0), seq) where holds_key`);
  await knex.raw(`update ${s}.meta set value = '5' where name = 'schema_version'`);
}

/** @param {import('knex').Knex} knex */
export async function down(knex) {
  const s = `"${schemaOf(knex)}"`;
  await knex.raw(`drop index if exists ${s}.outbox_holds_key`);
  await knex.raw(`create index outbox_holds_key on ${s}.outbox (topic, key, seq) where holds_key`);
  await knex.raw(`update ${s}.meta set value = '4' where name = 'schema_version'`);
}
