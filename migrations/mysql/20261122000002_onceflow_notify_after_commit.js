// @ts-check
/**
 * Onceflow schema for MySQL and MariaDB, version 2. On PostgreSQL this version removed the
 * NOTIFY trigger from producer transactions; MySQL has no LISTEN/NOTIFY, so version 1 never
 * had that trigger and only the version number moves, keeping both dialects' versions and
 * migration names in step.
 */
import { schemaOf, setVersion } from './ddl.js';

/** @param {import('knex').Knex} knex */
export async function up(knex) {
  await setVersion(knex, schemaOf(knex), 2);
}

/** @param {import('knex').Knex} knex */
export async function down(knex) {
  await setVersion(knex, schemaOf(knex), 1);
}
