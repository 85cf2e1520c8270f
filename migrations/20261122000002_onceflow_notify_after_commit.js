// @ts-check
/**
 * Onceflow schema, version 2: producers no longer NOTIFY from inside their transaction.
 *
 * PostgreSQL serialises every committing transaction that has sent a NOTIFY on one
 * database-wide lock, held until its commit record is flushed. With the trigger of version 1,
 * every producer commit waited for the WAL flush of the one before it, so commits could not
 * share a flush and a few hundred producer transactions per second queued up behind each other.
 * The OutboxWriter now wakes relays with a NOTIFY of its own after the commit, in a short
 * transaction that does not wait for a flush (see the producer package).
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
  await knex.raw(`drop trigger if exists outbox_notify on ${s}.outbox`);
  await knex.raw(`drop function if exists ${s}.outbox_notify()`);
  await knex.raw(`update ${s}.meta set value = '2' where name = 'schema_version'`);
}

/** @param {import('knex').Knex} knex */
export async function down(knex) {
  const name = schemaOf(knex);
  const s = `"${name}"`;
  await knex.raw(`
    create function ${s}.outbox_notify() returns trigger language plpgsql as $$
    begin
      perform pg_notify('onceflow_${name}', (select coalesce(string_agg(distinct shard::text, ','), '') from inserted));
      return null;
    end $$`);
  await knex.raw(`
    create trigger outbox_notify after insert on ${s}.outbox
    referencing new table as inserted
    for each statement execute function ${s}.outbox_notify()`);
  await knex.raw(`update ${s}.meta set value = '1' where name = 'schema_version'`);
}
