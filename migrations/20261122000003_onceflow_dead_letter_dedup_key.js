// @ts-check
/**
 * Onceflow schema, version 3: one parked copy per message in `dead_letters`.
 *
 * The unique index on (consumer, dedup_key) that keeps a second copy of a parked message (one
 * re-published, or redelivered at another offset) from being parked again was added to the
 * version 1 migration after databases had already run it; those lack it, and parking then
 * silently keeps both copies. This creates it where it is missing. If such a database already
 * holds two unreplayed dead letters with the same consumer and dedup key, the index cannot be
 * built: PostgreSQL names the duplicated key, and replaying or deleting one of the two lets
 * the migration through.
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
  await knex.raw(
    `create unique index if not exists dead_letters_dedup_key on ${s}.dead_letters (consumer, dedup_key)
     where replayed_at is null and dedup_key is not null`,
  );
  await knex.raw(`update ${s}.meta set value = '3' where name = 'schema_version'`);
}

/**
 * Back to version 2. The index stays: databases created by the current version 1 migration
 * have it at version 2 too.
 * @param {import('knex').Knex} knex
 */
export async function down(knex) {
  const s = `"${schemaOf(knex)}"`;
  await knex.raw(`update ${s}.meta set value = '2' where name = 'schema_version'`);
}
