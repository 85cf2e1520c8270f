// @ts-check
/**
 * Onceflow schema for MySQL 8 and MariaDB 10.6+, version 1: the outbox, the inbox, relay shard
 * leases, consumer dead letters, and the producers' key locks. The tables of PostgreSQL's
 * version 1, in the database named by the Onceflow schema (a MySQL database plays the part of
 * a PostgreSQL schema).
 *
 * Where PostgreSQL has a feature MySQL lacks, the equivalent and its reason:
 * - Keys compared by unique indexes (`key`, `idempotency_key`, `consumer`, `dedup_key`) are
 *   VARBINARY holding the UTF-8 bytes. utf8mb4_bin compares with PAD SPACE on both servers
 *   ('a' = 'a '), so a unique index over it would take a second idempotency key differing by a
 *   trailing space for a duplicate and silently drop that message; bytes compare exactly, and
 *   their limit is in bytes, like the producer's and the consumer's (1,024). Topics are
 *   ASCII by Kafka's rules (no spaces), so they stay VARCHAR ascii_bin.
 * - Index sizes: InnoDB's key limit is 3,072 bytes and counts utf8mb4 VARCHAR at 4 bytes a
 *   character; in bytes every index here fits with its full values (the widest, the inbox
 *   primary key after version 4, is 800 + 249 + 1,024 bytes), so nothing is hashed.
 * - `seq`: AUTO_INCREMENT instead of an identity column, and the primary key, so the relay's
 *   claims walk rows in publish order; `id` (uuid v7 text) is unique beside it. Values are
 *   taken from one counter in time order (innodb_autoinc_lock_mode 1 or 2 alike), which the
 *   producer's key locks turn into per-key commit order.
 * - Partial indexes do not exist: a virtual generated column that is NULL outside the
 *   predicate stands in (`pending_shard`, `held_key`, `is_dead`, `live`). NULLs never collide
 *   in a unique index, and InnoDB appends the primary key to every secondary index entry, so
 *   an index on `pending_shard` lists a shard's pending rows in `seq` order as PostgreSQL's
 *   (shard, seq) partial index does. Indexes on virtual columns work on MySQL 5.7+ and
 *   MariaDB 10.2+; MySQL 8's functional indexes are not in MariaDB.
 * - bytea is LONGBLOB, timestamptz is DATETIME(6) holding UTC (TIMESTAMP ends in 2038, and a
 *   delayed message may be due later; every default and comparison uses utc_timestamp()),
 *   '-infinity' is DATETIME's first day, jsonb is JSON: a binary type on MySQL 8, an alias of
 *   LONGTEXT with a json_valid CHECK on MariaDB; both validate, and Onceflow never indexes
 *   into it. JSON and BLOB defaults are expressions in parentheses (MySQL 8.0.13+, MariaDB
 *   10.2+), and CHECK constraints are enforced by MySQL 8.0.16+ and MariaDB 10.2+.
 * - No NOTIFY trigger (PostgreSQL's version 1 had one until version 2): MySQL has no
 *   LISTEN/NOTIFY; relays poll.
 * - `key_locks` replaces pg_advisory_xact_lock, which MySQL lacks (GET_LOCK belongs to the
 *   session, not the transaction, and outlives a rollback on a pooled connection): a producer
 *   locks one row per (topic, key) inside its transaction; see the producer's insert.
 *
 * Every statement may run again after a failure halfway (MySQL commits each DDL statement on
 * its own): tables are created if missing and the rows inserted only if missing.
 */
import { q, schemaOf, TABLE_OPTIONS } from './ddl.js';

const SHARD_COUNT = 32;

/** @param {import('knex').Knex} knex */
export async function up(knex) {
  const name = schemaOf(knex);
  const s = q(name);
  await knex.raw(`create database if not exists ${s} character set utf8mb4 collate utf8mb4_bin`);
  await knex.raw(`
    create table if not exists ${s}.meta (
      name varchar(64) character set ascii collate ascii_bin not null primary key,
      value text not null
    ) ${TABLE_OPTIONS}`);
  await knex.raw(
    `insert into ${s}.meta (name, value) values ('schema_version', '1'), ('shard_count', '${SHARD_COUNT}')
     on duplicate key update name = name`,
  );

  await knex.raw(`
    create table if not exists ${s}.outbox (
      seq bigint not null auto_increment,
      id char(36) character set ascii collate ascii_bin not null,
      topic varchar(249) character set ascii collate ascii_bin not null,
      \`key\` varbinary(1024) not null,
      shard smallint not null,
      idempotency_key varbinary(1024) not null,
      type longtext,
      payload longblob not null,
      headers json not null default ('{}'),
      status varchar(16) character set ascii collate ascii_bin not null default 'pending',
      attempts int not null default 0,
      holds_key boolean not null default false,
      available_at datetime(6) not null default (utc_timestamp(6)),
      errors json not null default ('[]'),
      created_at datetime(6) not null default (utc_timestamp(6)),
      published_at datetime(6),
      dead_at datetime(6),
      pending_shard smallint generated always as (if(status = 'pending', shard, null)) virtual,
      held_key varbinary(1274) generated always as (if(holds_key, concat(topic, 0x00, \`key\`), null)) virtual,
      is_dead tinyint generated always as (if(status = 'dead', 1, null)) virtual,
      primary key (seq),
      unique key outbox_id (id),
      unique key outbox_topic_idempotency_key (topic, idempotency_key),
      key outbox_pending (pending_shard),
      key outbox_holds_key (held_key),
      key outbox_dead (is_dead),
      constraint outbox_shard check (shard >= 0 and shard < ${SHARD_COUNT}),
      constraint outbox_status check (status in ('pending', 'published', 'dead'))
    ) ${TABLE_OPTIONS}`);

  // One row per (topic, key) lock id (the 64-bit hash PostgreSQL's advisory locks use).
  // Two keys sharing a hash only wait for each other; they are never reordered.
  await knex.raw(`
    create table if not exists ${s}.key_locks (
      lock_id bigint not null primary key
    ) ${TABLE_OPTIONS}`);

  await knex.raw(`
    create table if not exists ${s}.relay_shards (
      shard smallint not null primary key,
      owner varchar(255),
      lease_until datetime(6) not null default '1000-01-01 00:00:00',
      fencing_token bigint not null default 0
    ) ${TABLE_OPTIONS}`);
  const shards = Array.from({ length: SHARD_COUNT }, (_, i) => `(${i})`).join(', ');
  await knex.raw(`insert into ${s}.relay_shards (shard) values ${shards} on duplicate key update shard = shard`);
  await knex.raw(`
    create table if not exists ${s}.relays (
      relay_id varchar(255) not null primary key,
      started_at datetime(6) not null default (utc_timestamp(6)),
      heartbeat_at datetime(6) not null default (utc_timestamp(6))
    ) ${TABLE_OPTIONS}`);

  // The primary key is the last line of defence against double effects, as on PostgreSQL: a
  // second copy waits on the first copy's uncommitted row, then finds the duplicate.
  // consumer: a consumer name of at most 200 characters, so at most 800 UTF-8 bytes.
  await knex.raw(`
    create table if not exists ${s}.inbox (
      consumer varbinary(800) not null,
      dedup_key varbinary(1024) not null,
      status varchar(16) character set ascii collate ascii_bin not null default 'done',
      message_id longtext,
      topic varchar(249) character set ascii collate ascii_bin,
      \`partition\` int,
      \`offset\` bigint,
      fencing_token bigint not null default 0,
      lease_until datetime(6),
      processed_at datetime(6) not null default (utc_timestamp(6)),
      primary key (consumer, dedup_key),
      key inbox_processed_at (processed_at),
      constraint inbox_status check (status in ('processing', 'done'))
    ) ${TABLE_OPTIONS}`);

  // live is 1 while a dead letter is not replayed, else NULL: the unique indexes over it hold
  // for unreplayed rows only, as PostgreSQL's partial indexes `where replayed_at is null` do.
  await knex.raw(`
    create table if not exists ${s}.dead_letters (
      id bigint not null auto_increment primary key,
      consumer varbinary(800) not null,
      topic varchar(249) character set ascii collate ascii_bin not null,
      \`partition\` int not null,
      \`offset\` bigint not null,
      \`key\` longtext,
      dedup_key varbinary(1024),
      headers json not null default ('{}'),
      value longblob,
      errors json not null default ('[]'),
      attempts int not null,
      created_at datetime(6) not null default (utc_timestamp(6)),
      replayed_at datetime(6),
      live tinyint generated always as (if(replayed_at is null, 1, null)) virtual,
      key dead_letters_consumer (consumer, live),
      unique key dead_letters_record (consumer, topic, \`partition\`, \`offset\`, live),
      unique key dead_letters_dedup_key (consumer, dedup_key, live)
    ) ${TABLE_OPTIONS}`);
}

/** @param {import('knex').Knex} knex */
export async function down(knex) {
  const s = q(schemaOf(knex));
  await knex.raw(
    `drop table if exists ${s}.dead_letters, ${s}.inbox, ${s}.relays, ${s}.relay_shards, ${s}.key_locks, ${s}.outbox, ${s}.meta`,
  );
}
