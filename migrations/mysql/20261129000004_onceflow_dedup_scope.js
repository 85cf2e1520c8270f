// @ts-check
/**
 * Onceflow schema for MySQL and MariaDB, version 4: a message's dedup identity includes its
 * topic (see PostgreSQL's version 4 for why). Inbox rows and dead letters gain `scope`, the
 * topic or '' (ASCII, as topics are); the inbox primary key and the dead letters' dedup index
 * take it in.
 *
 * Each change is one ALTER statement, which InnoDB applies whole or not at all (dropping and
 * adding the primary key in one statement, so there is no moment without it), and each is
 * skipped when the catalogue shows it done: a run that stopped between two of them can be run
 * again. Rebuilding the primary key copies the inbox: stop consumers while it runs (they
 * refuse the new version until it is done anyway).
 */
import { hasColumn, indexColumns, q, schemaOf, setVersion } from './ddl.js';

const SCOPE = "scope varchar(249) character set ascii collate ascii_bin not null default ''";

/** @param {import('knex').Knex} knex */
export async function up(knex) {
  const schema = schemaOf(knex);
  const s = q(schema);
  if (!(await hasColumn(knex, schema, 'inbox', 'scope'))) {
    await knex.raw(`alter table ${s}.inbox add column ${SCOPE} after consumer`);
  }
  if ((await indexColumns(knex, schema, 'inbox', 'PRIMARY')).join() !== 'consumer,scope,dedup_key') {
    await knex.raw(`alter table ${s}.inbox drop primary key, add primary key (consumer, scope, dedup_key)`);
  }
  if (!(await hasColumn(knex, schema, 'dead_letters', 'scope'))) {
    await knex.raw(`alter table ${s}.dead_letters add column ${SCOPE} after consumer`);
  }
  if ((await indexColumns(knex, schema, 'dead_letters', 'dead_letters_dedup_key')).join() !== 'consumer,scope,dedup_key,live') {
    await knex.raw(
      `alter table ${s}.dead_letters drop index dead_letters_dedup_key,
       add unique key dead_letters_dedup_key (consumer, scope, dedup_key, live)`,
    );
  }
  await setVersion(knex, schema, 4);
}

/**
 * Back to version 3. Fails, naming the key, when one consumer has rows of one dedup key in
 * two scopes: version 3 cannot tell those messages apart.
 * @param {import('knex').Knex} knex
 */
export async function down(knex) {
  const schema = schemaOf(knex);
  const s = q(schema);
  if ((await indexColumns(knex, schema, 'inbox', 'PRIMARY')).join() !== 'consumer,dedup_key') {
    await knex.raw(`alter table ${s}.inbox drop primary key, add primary key (consumer, dedup_key)`);
  }
  if (await hasColumn(knex, schema, 'inbox', 'scope')) await knex.raw(`alter table ${s}.inbox drop column scope`);
  if ((await indexColumns(knex, schema, 'dead_letters', 'dead_letters_dedup_key')).join() !== 'consumer,dedup_key,live') {
    await knex.raw(
      `alter table ${s}.dead_letters drop index dead_letters_dedup_key,
       add unique key dead_letters_dedup_key (consumer, dedup_key, live)`,
    );
  }
  if (await hasColumn(knex, schema, 'dead_letters', 'scope')) await knex.raw(`alter table ${s}.dead_letters drop column scope`);
  await setVersion(knex, schema, 3);
}
