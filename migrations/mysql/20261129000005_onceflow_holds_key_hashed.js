// @ts-check
/**
 * Onceflow schema for MySQL and MariaDB, version 5. On PostgreSQL this version put a hash of
 * the key into the `outbox_holds_key` index, because a PostgreSQL index entry above about
 * 2,700 bytes is refused and a row with a long key could then never be marked failed. On
 * MySQL the index holds `held_key` (topic, a 0x00 byte, key), at most 249 + 1 + 1,024 bytes,
 * the key column being VARBINARY(1024): every value the column can hold fits InnoDB's
 * 3,072-byte limit, so no hash is needed and only the version number moves. (A server
 * running without STRICT_TRANS_TABLES would truncate a longer key instead of refusing it;
 * Onceflow's producer refuses such keys before any SQL runs.)
 */
import { schemaOf, setVersion } from './ddl.js';

/** @param {import('knex').Knex} knex */
export async function up(knex) {
  await setVersion(knex, schemaOf(knex), 5);
}

/** @param {import('knex').Knex} knex */
export async function down(knex) {
  await setVersion(knex, schemaOf(knex), 4);
}
