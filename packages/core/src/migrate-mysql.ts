import { mysqlMigrations } from '@onceflow/migrations/mysql';
import type { Knex } from 'knex';
import { SchemaVersionError } from './errors.ts';
import { onceflowMigrationSource } from './migration-source.ts';
import { RetryPolicy } from './retry-policy.ts';
import { assertPeerVersion } from './runtime.ts';
import { SCHEMA_VERSION } from './schema.ts';
import { mysqlTablesFor, quoteMysqlIdentifier } from './schema-mysql.ts';

// MySQL and MariaDB error numbers (mysql2 reports them as `errno`). Matched by number, never
// by message text, which depends on the server and its language.
const ER_TABLE_EXISTS = 1050;
const ER_DUP_ENTRY = 1062;
const ER_LOCK_DEADLOCK = 1213;
const ER_BAD_DB = 1049;
const ER_NO_SUCH_TABLE = 1146;

/** The MySQL error number of `error`, if it has one. */
export function mysqlErrno(error: unknown): number | undefined {
  const errno = (error as { errno?: unknown } | null)?.errno;
  return typeof errno === 'number' ? errno : undefined;
}

/**
 * Prepares the database `schema` for knex's migrator on MySQL or MariaDB and returns the
 * migrator settings that apply Onceflow's MySQL migrations there, with knex's bookkeeping in
 * `<schema>.<tableName>`.
 *
 * Knex does not create databases, so this creates the Onceflow database first, and knex's
 * bookkeeping and lock tables in it (see below). Transactions are off because they would only
 * pretend: MySQL commits each DDL statement on its own, so a migration that fails halfway
 * keeps its first statements, whatever knex then rolls back. It
 * is recorded as applied only once it has finished, so the next run starts it again from the
 * top, and every MySQL migration is written to run again over its own half-done work (see
 * `@onceflow/migrations/mysql`). The schema version it writes last stays at the older value
 * meanwhile, so relays and consumers keep refusing the database until it is complete.
 */
export async function mysqlMigrationConfig(knex: Knex, schema: string, tableName: string): Promise<Knex.MigratorConfig> {
  assertPeerVersion('knex');
  assertPeerVersion('mysql2');
  const name = mysqlTablesFor(schema).schema;
  const s = quoteMysqlIdentifier(name);
  await knex.raw(`create database if not exists ${s} character set utf8mb4 collate utf8mb4_bin`);
  // Knex's own tables, as knex creates them, made here because knex's way races: two processes
  // that both find the lock table empty both insert a row, and from then on knex's lock (an
  // update that must change exactly one row) reads as taken for ever. CREATE ... IF NOT EXISTS
  // and a fixed row id cannot race.
  await knex.raw(
    `create table if not exists ${s}.${quoteMysqlIdentifier(tableName)} (
       id int unsigned not null auto_increment primary key, name varchar(255), batch int, migration_time timestamp null
     ) engine = InnoDB default charset = utf8mb4`,
  );
  await knex.raw(
    `create table if not exists ${s}.${quoteMysqlIdentifier(`${tableName}_lock`)} (
       \`index\` int unsigned not null auto_increment primary key, is_locked int
     ) engine = InnoDB default charset = utf8mb4`,
  );
  await knex.raw(
    `insert into ${s}.${quoteMysqlIdentifier(`${tableName}_lock`)} (\`index\`, is_locked) values (1, 0)
     on duplicate key update \`index\` = \`index\``,
  );
  await adoptInstalledVersion(knex, name, tableName);
  return {
    migrationSource: onceflowMigrationSource(mysqlMigrations, name),
    tableName,
    schemaName: name,
    disableTransactions: true,
  };
}

/**
 * Records the first `meta.schema_version` migrations as applied in knex's bookkeeping when it
 * is empty but the database holds Onceflow's tables: a database set up from `onceflow migrate
 * --sql` output, which records no bookkeeping rows (as on PostgreSQL; see
 * `knexMigrationConfig`). Done under knex's lock row, locked, and only while no migrator holds
 * knex's lock: a migrator that is running records its own migrations, and one that starts
 * later waits for this transaction and then finds them recorded.
 */
async function adoptInstalledVersion(knex: Knex, schema: string, tableName: string): Promise<void> {
  const s = quoteMysqlIdentifier(schema);
  await knex.transaction(async (trx) => {
    const [lock] = (await trx.raw(
      `select is_locked from ${s}.${quoteMysqlIdentifier(`${tableName}_lock`)} where \`index\` = 1 for update`,
    )) as [Array<{ is_locked: number | null }>];
    if (Number(lock[0]?.is_locked ?? 0) !== 0) return;
    const [recorded] = (await trx.raw(`select count(*) as n from ${s}.${quoteMysqlIdentifier(tableName)}`)) as [
      Array<{ n: number | string }>,
    ];
    if (Number(recorded[0]?.n ?? 0) > 0) return;
    const installed = await mysqlInstalledVersion(trx, schema);
    if (installed === null || installed < 1) return;
    if (installed > mysqlMigrations.length) throw new SchemaVersionError(schema, installed, SCHEMA_VERSION);
    const rows = mysqlMigrations.slice(0, installed);
    await trx.raw(
      `insert into ${s}.${quoteMysqlIdentifier(tableName)} (name, batch, migration_time) values ${rows.map(() => '(?, 1, current_timestamp)').join(', ')}`,
      rows.map((m) => m.name),
    );
  });
}

/**
 * Failures of one of several processes migrating at once, which end when the others are done:
 * knex's migration lock is taken (it fails at once rather than wait), or their statements
 * met (a table created or a row inserted by the other, a deadlock).
 */
function isConcurrentMigration(error: unknown): boolean {
  if (error instanceof Error && error.name === 'MigrationLocked') return true;
  const errno = mysqlErrno(error);
  return errno === ER_TABLE_EXISTS || errno === ER_DUP_ENTRY || errno === ER_LOCK_DEADLOCK;
}

/** How long {@link migrateMysql} waits for other processes' migrations, which may be long on a big inbox. */
const CONCURRENT_MIGRATION_WAIT_MS = 120_000;

/**
 * Brings Onceflow's tables in the MySQL or MariaDB database `schema` up to date; what
 * `migrate()` does on those servers. Safe to call from several processes at once: the others
 * wait for the first and then find nothing left to do.
 */
export async function migrateMysql(knex: Knex, schema: string, tableName: string): Promise<void> {
  const config = await mysqlMigrationConfig(knex, schema, tableName);
  const policy = new RetryPolicy({
    maxAttempts: Number.POSITIVE_INFINITY,
    minDelayMs: 100,
    maxDelayMs: 2_000,
    retriable: isConcurrentMigration,
  });
  const deadline = Date.now() + CONCURRENT_MIGRATION_WAIT_MS;
  for (let failures = 1; ; failures++) {
    try {
      await knex.migrate.latest(config);
      return;
    } catch (error) {
      const decision = policy.decide(error, failures);
      if (!decision.retry || Date.now() + decision.delayMs > deadline) throw error;
      await policy.wait(decision.delayMs);
    }
  }
}

/** The schema version recorded in `meta` of the MySQL database `schema`, or null when the database or table is missing. */
export async function mysqlInstalledVersion(knex: Knex, schema: string): Promise<number | null> {
  const tables = mysqlTablesFor(schema);
  const [present] = (await knex.raw("select count(*) as n from information_schema.tables where table_schema = ? and table_name = 'meta'", [
    tables.schema,
  ])) as [Array<{ n: number | string }>];
  if (Number(present[0]?.n ?? 0) === 0) return null;
  const [rows] = (await knex.raw(`select value from ${tables.meta} where name = 'schema_version'`)) as [Array<{ value: string }>];
  const value = rows[0]?.value;
  return value === undefined ? null : Number(value);
}

/**
 * A {@link SchemaVersionError} for `schema` when `error` is MySQL's "table does not exist"
 * (1146) or "unknown database" (1049), so a statement run against a database without
 * Onceflow's tables reports that and the command that fixes it; undefined for any other error.
 */
export function mysqlMissingSchemaError(error: unknown, schema: string): SchemaVersionError | undefined {
  const errno = mysqlErrno(error);
  return errno === ER_NO_SUCH_TABLE || errno === ER_BAD_DB ? new SchemaVersionError(schema, null, SCHEMA_VERSION) : undefined;
}

/**
 * Removes Onceflow's tables and knex's bookkeeping from the MySQL database `schema`, then the
 * database itself if nothing else is left in it: on MySQL the Onceflow "schema" may be the
 * application's own database, whose tables are never Onceflow's to drop.
 */
export async function dropMysqlSchema(knex: Knex, schema: string, tableName: string): Promise<void> {
  const s = quoteMysqlIdentifier(mysqlTablesFor(schema).schema);
  const own = ['dead_letters', 'inbox', 'relays', 'relay_shards', 'key_locks', 'outbox', 'meta', tableName, `${tableName}_lock`];
  await knex.raw(`drop table if exists ${own.map((t) => `${s}.${quoteMysqlIdentifier(t)}`).join(', ')}`);
  const [left] = (await knex.raw('select count(*) as n from information_schema.tables where table_schema = ?', [schema])) as [
    Array<{ n: number | string }>,
  ];
  if (Number(left[0]?.n ?? 0) === 0) await knex.raw(`drop database if exists ${s}`);
}
