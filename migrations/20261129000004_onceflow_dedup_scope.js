// @ts-check
/**
 * Onceflow schema, version 4: a message's dedup identity includes its topic.
 *
 * The inbox was unique on (consumer, dedup_key), while the outbox is unique on (topic,
 * idempotency_key): `orders.paid` and `orders.refunded` with one idempotency key are two
 * messages, and the second was skipped as a duplicate of the first. Anyone who can write to
 * one subscribed topic could plant a key there to suppress the real message on another.
 *
 * Inbox rows and dead letters gain `scope`: the topic for consumers deduping per topic (the
 * default now), '' for consumers that keep one dedup space across their topics (the
 * `dedupScope: 'consumer'` option), and '' for every row written before this version. Those
 * older rows keep working without being rewritten: a consumer in topic scope also treats a
 * message as done when an unscoped `done` row of its dedup key exists whose topic is the
 * message's topic (or unknown, as side-effect records never stored it). So a message
 * redelivered after the upgrade is still skipped, and nothing is applied twice.
 *
 * Rebuilding the primary key reads the whole inbox under an exclusive lock: stop consumers
 * while it runs (they refuse the new version until it is done anyway). Each statement is
 * safe to run again, so a database repaired by hand can be migrated again.
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
  // A constant default: existing rows read '' without the table being rewritten.
  await knex.raw(`alter table ${s}.inbox add column if not exists scope text not null default ''`);
  await knex.raw(`alter table ${s}.inbox drop constraint if exists inbox_pkey`);
  await knex.raw(`alter table ${s}.inbox add constraint inbox_pkey primary key (consumer, scope, dedup_key)`);
  await knex.raw(`alter table ${s}.dead_letters add column if not exists scope text not null default ''`);
  await knex.raw(`drop index if exists ${s}.dead_letters_dedup_key`);
  await knex.raw(
    `create unique index dead_letters_dedup_key on ${s}.dead_letters (consumer, scope, dedup_key)
     where replayed_at is null and dedup_key is not null`,
  );
  await knex.raw(`update ${s}.meta set value = '4' where name = 'schema_version'`);
}

/**
 * Back to version 3. Fails, naming the key, when one consumer has rows of one dedup key in
 * two scopes: version 3 cannot tell those messages apart.
 * @param {import('knex').Knex} knex
 */
export async function down(knex) {
  const s = `"${schemaOf(knex)}"`;
  await knex.raw(`alter table ${s}.inbox drop constraint if exists inbox_pkey`);
  await knex.raw(`alter table ${s}.inbox add constraint inbox_pkey primary key (consumer, dedup_key)`);
  await knex.raw(`alter table ${s}.inbox drop column if exists scope`);
  await knex.raw(`drop index if exists ${s}.dead_letters_dedup_key`);
  await knex.raw(
    `create unique index dead_letters_dedup_key on ${s}.dead_letters (consumer, dedup_key)
     where replayed_at is null and dedup_key is not null`,
  );
  await knex.raw(`alter table ${s}.dead_letters drop column if exists scope`);
  await knex.raw(`update ${s}.meta set value = '3' where name = 'schema_version'`);
}
