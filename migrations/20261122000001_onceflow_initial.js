// @ts-check
/**
 * Onceflow schema, version 1: the outbox, the inbox, relay shard leases and consumer dead
 * letters. The schema name comes from `knex.userParams.schema` (set by Onceflow's migrate),
 * else ONCEFLOW_SCHEMA, else "onceflow"; it is validated before it reaches any SQL.
 */

const SHARD_COUNT = 32;

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
  const name = schemaOf(knex);
  const s = `"${name}"`;
  await knex.raw(`create schema if not exists ${s}`);
  await knex.raw(`
    create table ${s}.meta (
      name text primary key,
      value text not null
    )`);
  await knex.raw(`insert into ${s}.meta (name, value) values ('schema_version', '1'), ('shard_count', '${SHARD_COUNT}')`);

  // seq is the publish order. Producers take a transaction-scoped advisory lock on
  // (topic, key) before inserting, so for one key seq order equals commit order.
  // No index leads with seq: seq follows the heap order, so the planner would walk such an
  // index instead of outbox_pending and step over every published row on each claim. Rows are
  // found by id, and by (shard, seq) among pending ones only.
  await knex.raw(`
    create table ${s}.outbox (
      seq bigint generated always as identity,
      id uuid primary key,
      topic text not null,
      key text not null,
      shard smallint not null check (shard >= 0 and shard < ${SHARD_COUNT}),
      idempotency_key text not null,
      type text,
      payload bytea not null,
      headers jsonb not null default '{}'::jsonb,
      status text not null default 'pending' check (status in ('pending', 'published', 'dead')),
      attempts integer not null default 0,
      holds_key boolean not null default false,
      available_at timestamptz not null default now(),
      errors jsonb not null default '[]'::jsonb,
      created_at timestamptz not null default now(),
      published_at timestamptz,
      dead_at timestamptz
    )`);
  await knex.raw(`create unique index outbox_topic_idempotency_key on ${s}.outbox (topic, idempotency_key)`);
  // A relay claims the next pending rows of each of its shards in seq order from here. Per
  // shard, so a claim steps over the not yet vacuumed entries of its own shards only.
  await knex.raw(`create index outbox_pending on ${s}.outbox (shard, seq) where status = 'pending'`);
  // Rows that hold back later rows of their key (failed and waiting to retry, or dead with
  // onDead 'block'). Kept tiny by the predicate so the "is my key held?" probe is cheap.
  await knex.raw(`create index outbox_holds_key on ${s}.outbox (topic, key, seq) where holds_key`);
  // No index on published_at: marking rows published is the relay's hottest write, and each
  // index it must update costs. Pruning walks the primary key instead, as ids are uuid v7 and
  // so sorted by creation time.
  await knex.raw(`create index outbox_dead on ${s}.outbox (seq) where status = 'dead'`);

  // One notification per producer statement, delivered by PostgreSQL only at commit, so a
  // relay is never woken for rows it cannot see yet. The payload lists the shards written
  // ("3,17"), so only the relay holding those shards wakes them.
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

  await knex.raw(`
    create table ${s}.relay_shards (
      shard smallint primary key,
      owner text,
      lease_until timestamptz not null default '-infinity',
      fencing_token bigint not null default 0
    )`);
  await knex.raw(`insert into ${s}.relay_shards (shard) select generate_series(0, ${SHARD_COUNT - 1})`);
  // Live relays announce themselves here; each takes about shard_count / live relays shards.
  await knex.raw(`
    create table ${s}.relays (
      relay_id text primary key,
      started_at timestamptz not null default now(),
      heartbeat_at timestamptz not null default now()
    )`);

  // The unique primary key is the last line of defence against double effects: a second copy
  // of a message blocks on the first copy's uncommitted row and then finds the conflict.
  await knex.raw(`
    create table ${s}.inbox (
      consumer text not null,
      dedup_key text not null,
      status text not null default 'done' check (status in ('processing', 'done')),
      message_id text,
      topic text,
      partition integer,
      "offset" bigint,
      fencing_token bigint not null default 0,
      lease_until timestamptz,
      processed_at timestamptz not null default now(),
      primary key (consumer, dedup_key)
    )`);
  await knex.raw(`create index inbox_processed_at on ${s}.inbox (processed_at)`);

  await knex.raw(`
    create table ${s}.dead_letters (
      id bigint generated always as identity primary key,
      consumer text not null,
      topic text not null,
      partition integer not null,
      "offset" bigint not null,
      key text,
      dedup_key text,
      headers jsonb not null default '{}'::jsonb,
      value bytea,
      errors jsonb not null default '[]'::jsonb,
      attempts integer not null,
      created_at timestamptz not null default now(),
      replayed_at timestamptz
    )`);
  await knex.raw(`create index dead_letters_consumer on ${s}.dead_letters (consumer, id) where replayed_at is null`);
  // A record redelivered after a crash between parking and the offset commit is parked once.
  await knex.raw(
    `create unique index dead_letters_record on ${s}.dead_letters (consumer, topic, partition, "offset") where replayed_at is null`,
  );
  // And a copy of a parked message (re-published, redelivered at another offset) is not parked
  // again: it would only fail the same way.
  await knex.raw(
    `create unique index dead_letters_dedup_key on ${s}.dead_letters (consumer, dedup_key) where replayed_at is null and dedup_key is not null`,
  );
}

/** @param {import('knex').Knex} knex */
export async function down(knex) {
  const s = `"${schemaOf(knex)}"`;
  await knex.raw(`drop table if exists ${s}.dead_letters, ${s}.inbox, ${s}.relays, ${s}.relay_shards, ${s}.outbox, ${s}.meta`);
  await knex.raw(`drop function if exists ${s}.outbox_notify()`);
}
