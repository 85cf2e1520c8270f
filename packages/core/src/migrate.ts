import { migrations } from '@onceflow/migrations';
import type { Knex } from 'knex';
import knexFactory from 'knex';
import { dialectOf } from './dialect.ts';
import { SchemaVersionError } from './errors.ts';
import { dropMysqlSchema, migrateMysql, mysqlInstalledVersion, mysqlMigrationConfig } from './migrate-mysql.ts';
import { onceflowMigrationSource } from './migration-source.ts';
import { RetryPolicy, RetryStopped } from './retry-policy.ts';
import { assertPeerVersion } from './runtime.ts';
import { defaultSchema, SCHEMA_VERSION, tablesFor } from './schema.ts';

/**
 * Knex's bookkeeping table for Onceflow's migrations, inside the Onceflow schema. Every way of
 * applying them ({@link migrate}, `onceflow migrate`, plain knex through
 * {@link onceflowKnexfile}) reads and writes this one table, so they are interchangeable.
 */
export const MIGRATIONS_TABLE = 'knex_migrations';

/** Options of {@link migrate} and {@link knexMigrationConfig}. */
export interface MigrateOptions {
  /** Schema for Onceflow's tables. @defaultValue ONCEFLOW_SCHEMA, else "onceflow" */
  schema?: string;
}

/**
 * Prepares `schema` for knex's migrator and returns the migrator settings that apply Onceflow's
 * migrations there: `await knex.migrate.latest(await knexMigrationConfig(knex))`.
 *
 * Knex keeps its bookkeeping in the Onceflow schema but does not create schemas, so this creates
 * it first. It also adopts databases whose bookkeeping lives elsewhere: earlier releases' root
 * knexfile recorded migrations in `onceflow_knex_migrations` of the default schema, so a schema
 * that holds Onceflow's tables but no rows in {@link MIGRATIONS_TABLE} gets one row per migration
 * its `meta.schema_version` says was applied (each migration bumps that version by one).
 */
export async function knexMigrationConfig(knex: Knex, options: MigrateOptions = {}): Promise<Knex.MigratorConfig> {
  assertPeerVersion('knex');
  if (dialectOf(knex) === 'mysql') return mysqlMigrationConfig(knex, options.schema ?? defaultSchema(), MIGRATIONS_TABLE);
  const tables = tablesFor(options.schema ?? defaultSchema());
  const schema = tables.schema;
  await knex.transaction(async (trx) => {
    // One preparer at a time per schema; a second one finds the work done. The lock id is the
    // schema's name hashed by PostgreSQL, distinct from the key locks (two-argument form).
    await trx.raw(`select pg_advisory_xact_lock(hashtext('onceflow migrate'), hashtext(?))`, [schema]);
    await trx.raw(`create schema if not exists "${schema}"`);
    const hasBookkeeping = await trx.schema.withSchema(schema).hasTable(MIGRATIONS_TABLE);
    if (!hasBookkeeping) {
      // The same columns knex's migrator creates, so knex takes this table as its own.
      await trx.schema.withSchema(schema).createTable(MIGRATIONS_TABLE, (t) => {
        t.increments();
        t.string('name');
        t.integer('batch');
        t.timestamp('migration_time');
      });
    }
    // Knex's lock table with its one row, made here under the advisory lock: left to knex, two
    // processes starting at once can each find it empty and each insert a row, after which
    // knex's lock (an update that must touch exactly one row) reads as taken for good.
    const lockTable = `${MIGRATIONS_TABLE}_lock`;
    if (!(await trx.schema.withSchema(schema).hasTable(lockTable))) {
      await trx.schema.withSchema(schema).createTable(lockTable, (t) => {
        t.increments('index').primary();
        t.integer('is_locked');
      });
    }
    const lockRows = await trx.withSchema(schema).from(lockTable).count<Array<{ n: string | number }>>({ n: '*' });
    if (Number(lockRows[0]?.n ?? 0) === 0) await trx.withSchema(schema).into(lockTable).insert({ is_locked: 0 });
    const recorded = await trx.withSchema(schema).from(MIGRATIONS_TABLE).count<Array<{ n: string | number }>>({ n: '*' });
    if (Number(recorded[0]?.n ?? 0) > 0) return;
    const installed = await installedVersion(trx, schema);
    if (installed === null || installed < 1) return;
    if (installed > migrations.length) throw new SchemaVersionError(schema, installed, SCHEMA_VERSION);
    const now = new Date();
    await trx
      .withSchema(schema)
      .into(MIGRATIONS_TABLE)
      .insert(migrations.slice(0, installed).map((m) => ({ name: m.name, batch: 1, migration_time: now })));
  });
  return { migrationSource: onceflowMigrationSource(migrations, schema), tableName: MIGRATIONS_TABLE, schemaName: schema };
}

/**
 * Brings Onceflow's tables in `schema` up to date. Safe to call from several processes at
 * once: knex's migration lock makes the others wait and retry. On MySQL and MariaDB (a knex
 * with the mysql2 client) `schema` names the database holding the tables; see
 * `migrateMysql`.
 */
export async function migrate(knex: Knex, options: MigrateOptions = {}): Promise<void> {
  if (dialectOf(knex) === 'mysql') return migrateMysql(knex, options.schema ?? defaultSchema(), MIGRATIONS_TABLE);
  const config = await knexMigrationConfig(knex, options);
  // Knex's migration lock fails at once instead of waiting: wait for the other process's
  // migrations (which may take long on a big inbox) for up to two minutes, polling every 100
  // to 200 ms (a constant step of 200 with the policy's equal jitter).
  const deadline = Date.now() + 120_000;
  const lockWait = new RetryPolicy({
    maxAttempts: Number.POSITIVE_INFINITY,
    minDelayMs: 200,
    maxDelayMs: 200,
    retriable: (error) => isMigrationLockBusy(error) && Date.now() <= deadline,
  });
  try {
    await lockWait.run(() => knex.migrate.latest(config));
  } catch (error) {
    // The caller sees the migration's own failure, as before there was a retry.
    throw error instanceof RetryStopped ? error.cause : error;
  }
}

/** Whether `error` says another process holds or is creating knex's migration lock. */
function isMigrationLockBusy(error: unknown): boolean {
  if (error instanceof Error && error.name === 'MigrationLocked') return true;
  // Two processes creating knex's lock table at once: one gets a unique violation.
  const code = (error as { code?: unknown } | null)?.code;
  return code === '23505' || code === '42P07';
}

/**
 * A knexfile for the knex CLI that applies Onceflow's migrations to `schema`:
 *
 * ```js
 * // knexfile.onceflow.mjs, then: npx knex --knexfile knexfile.onceflow.mjs migrate:latest
 * import { onceflowKnexfile } from '@onceflow/relay';
 * export default () => onceflowKnexfile({ client: 'pg', connection: process.env.DATABASE_URL });
 * ```
 *
 * It connects once to prepare the schema (see {@link knexMigrationConfig}), then returns
 * `config` with its `migrations` settings replaced.
 */
export async function onceflowKnexfile(config: Knex.Config, options: MigrateOptions = {}): Promise<Knex.Config> {
  const knex = knexFactory({ ...config, pool: { min: 0, max: 1 } });
  try {
    return { ...config, migrations: await knexMigrationConfig(knex, options) };
  } finally {
    await knex.destroy();
  }
}

/** Removes Onceflow's tables and schema (tests and uninstall). */
export async function dropSchema(knex: Knex, schema: string = defaultSchema()): Promise<void> {
  if (dialectOf(knex) === 'mysql') return dropMysqlSchema(knex, schema, MIGRATIONS_TABLE);
  const tables = tablesFor(schema);
  await knex.raw(`drop schema if exists "${tables.schema}" cascade`);
}

/** The schema version recorded in `meta` of `schema`, or null when the schema or table is missing. */
export async function installedVersion(knex: Knex, schema: string): Promise<number | null> {
  if (dialectOf(knex) === 'mysql') return mysqlInstalledVersion(knex, schema);
  const tables = tablesFor(schema);
  // to_regclass instead of catching "relation does not exist": a failed statement would abort
  // the caller's transaction.
  const exists = await knex.raw('select to_regclass(?) is not null as present', [tables.meta]);
  if (exists.rows[0]?.present !== true) return null;
  const result = await knex.raw(`select value from ${tables.meta} where name = 'schema_version'`);
  const value = result.rows[0]?.value;
  return value === undefined ? null : Number(value);
}

/**
 * A {@link SchemaVersionError} for `schema` when `error` is PostgreSQL's "relation does not
 * exist" (42P01) or "schema does not exist" (3F000), so a statement run against a schema without
 * Onceflow's tables reports that and the command that fixes it, never the failed SQL; undefined
 * for any other error.
 */
export function missingSchemaError(error: unknown, schema: string): SchemaVersionError | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '42P01' || code === '3F000' ? new SchemaVersionError(schema, null, SCHEMA_VERSION) : undefined;
}

/**
 * Refuses a database whose Onceflow schema is missing or at another version than this code
 * understands. Relays and consumers call it once at start.
 */
export async function checkSchemaVersion(knex: Knex, schema: string = defaultSchema()): Promise<void> {
  const found = await installedVersion(knex, tablesFor(schema).schema);
  if (found !== SCHEMA_VERSION) throw new SchemaVersionError(schema, found, SCHEMA_VERSION);
}
