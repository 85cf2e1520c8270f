import type { Knex } from 'knex';
import * as initial from '../../../migrations/20261122000001_onceflow_initial.js';
import * as notifyAfterCommit from '../../../migrations/20261122000002_onceflow_notify_after_commit.js';
import * as deadLetterDedupKey from '../../../migrations/20261122000003_onceflow_dead_letter_dedup_key.js';
import * as dedupScope from '../../../migrations/20261129000004_onceflow_dedup_scope.js';
import * as holdsKeyHashed from '../../../migrations/20261129000005_onceflow_holds_key_hashed.js';
import { SchemaVersionError } from './errors.ts';
import { DEFAULT_SCHEMA, SCHEMA_VERSION, tablesFor } from './schema.ts';

interface MigrationModule {
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

/** Migrations in order, named as their files so plain knex and this runner agree. */
const MIGRATIONS: Array<readonly [string, MigrationModule]> = [
  ['20261122000001_onceflow_initial.js', initial],
  ['20261122000002_onceflow_notify_after_commit.js', notifyAfterCommit],
  ['20261122000003_onceflow_dead_letter_dedup_key.js', deadLetterDedupKey],
  ['20261129000004_onceflow_dedup_scope.js', dedupScope],
  ['20261129000005_onceflow_holds_key_hashed.js', holdsKeyHashed],
];

const migrationSource: Knex.MigrationSource<readonly [string, MigrationModule]> = {
  getMigrations: async () => MIGRATIONS,
  getMigrationName: ([name]) => name,
  getMigration: async ([, module]) => module,
};

/** Options of {@link migrate}. */
export interface MigrateOptions {
  /** Schema for Onceflow's tables. @defaultValue "onceflow" */
  schema?: string;
}

/**
 * Brings Onceflow's tables in `schema` up to date. Safe to call from several processes at
 * once: knex's migration lock makes the others wait and retry.
 */
export async function migrate(knex: Knex, options: MigrateOptions = {}): Promise<void> {
  const tables = tablesFor(options.schema ?? DEFAULT_SCHEMA);
  const scoped = knex.withUserParams({ schema: tables.schema });
  // The bookkeeping tables live in the Onceflow schema, which must exist first.
  await knex.raw(`create schema if not exists "${tables.schema}"`).catch(async (error: unknown) => {
    // Two processes creating the schema at once: one gets a unique violation; fine if it exists now.
    const exists = await knex.raw('select 1 from pg_namespace where nspname = ?', [tables.schema]);
    if (exists.rows.length === 0) throw error;
  });
  for (let attempt = 0; ; attempt++) {
    try {
      await scoped.migrate.latest({ migrationSource, tableName: 'knex_migrations', schemaName: tables.schema });
      return;
    } catch (error) {
      const locked = error instanceof Error && error.name === 'MigrationLocked';
      const racedCreate = (error as { code?: unknown }).code === '23505' || (error as { code?: unknown }).code === '42P07';
      if (!(locked || racedCreate) || attempt >= 50) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100 + Math.random() * 100));
    }
  }
}

/** Removes Onceflow's tables and schema (tests and uninstall). */
export async function dropSchema(knex: Knex, schema: string = DEFAULT_SCHEMA): Promise<void> {
  const tables = tablesFor(schema);
  await knex.raw(`drop schema if exists "${tables.schema}" cascade`);
}

/**
 * Refuses a database whose Onceflow schema is missing or at another version than this code
 * understands. Relays and consumers call it once at start.
 */
export async function checkSchemaVersion(knex: Knex, schema: string = DEFAULT_SCHEMA): Promise<void> {
  const tables = tablesFor(schema);
  let found: number | null = null;
  try {
    const result = await knex.raw(`select value from ${tables.meta} where name = 'schema_version'`);
    const value = result.rows[0]?.value;
    found = value === undefined ? null : Number(value);
  } catch (error) {
    // 42P01: undefined table, 3F000: undefined schema. Anything else is a real failure.
    const code = (error as { code?: unknown }).code;
    if (code !== '42P01' && code !== '3F000') throw error;
  }
  if (found !== SCHEMA_VERSION) throw new SchemaVersionError(tables.schema, found, SCHEMA_VERSION);
}
