import type { OnceflowMigration } from '@onceflow/migrations';
import { migrations } from '@onceflow/migrations';
import { mysqlMigrations } from '@onceflow/migrations/mysql';
import type { Knex } from 'knex';
import type { Dialect } from './dialect.ts';
import { dialectOf } from './dialect.ts';
import { installedVersion, MIGRATIONS_TABLE } from './migrate.ts';
import { defaultSchema, SCHEMA_VERSION } from './schema.ts';
import { tablesForDialect } from './schema-mysql.ts';
import * as pg from './sql/relation-exists.ts';
import type { AppliedMigrationRow } from './sql/select-applied-migrations.ts';
import * as pgApplied from './sql/select-applied-migrations.ts';
import * as mysql from './sql-mysql/relation-exists.ts';
import * as mysqlApplied from './sql-mysql/select-applied-migrations.ts';

/** A migration recorded as applied. */
export interface AppliedMigration {
  readonly name: string;
  /** When it was applied, null when its record was adopted from an older bookkeeping table. */
  readonly appliedAt: Date | null;
}

/** Where a schema stands against this release's migrations; see {@link migrationStatus}. */
export interface MigrationStatus {
  readonly schema: string;
  /** The version recorded in the schema's `meta` table, null when there is none. */
  readonly version: number | null;
  /** The version this release needs. */
  readonly expectedVersion: number;
  /** Migrations recorded as applied, oldest first. */
  readonly applied: readonly AppliedMigration[];
  /** Migrations of this release not applied yet, in the order they will run. */
  readonly pending: readonly string[];
  /** True when the schema is at the version this release needs. */
  readonly upToDate: boolean;
}

/** What {@link migrationStatus} reads, per dialect: the migrations and the catalogue's SQL. */
const BY_DIALECT: Readonly<
  Record<
    Dialect,
    {
      migrations: readonly OnceflowMigration[];
      relationExists(knex: Knex, schema: string, name: string): Promise<boolean>;
      selectAppliedMigrations(knex: Knex, schema: string, table: string): Promise<AppliedMigrationRow[]>;
    }
  >
> = {
  postgres: { migrations, relationExists: pg.relationExists, selectAppliedMigrations: pgApplied.selectAppliedMigrations },
  mysql: {
    migrations: mysqlMigrations,
    relationExists: mysql.relationExists,
    selectAppliedMigrations: mysqlApplied.selectAppliedMigrations,
  },
};

/**
 * Applied and pending migrations of `schema`, read without writing anything (no schema or
 * bookkeeping table is created). A schema with Onceflow's tables but no bookkeeping rows (set up
 * by an earlier release, or by running `onceflow migrate --sql` output) counts the first
 * `version` migrations as applied, as {@link knexMigrationConfig} will record them. On MySQL and
 * MariaDB (a knex with the mysql2 client) `schema` is the database holding Onceflow's tables.
 */
export async function migrationStatus(knex: Knex, options: { schema?: string } = {}): Promise<MigrationStatus> {
  const dialect = dialectOf(knex);
  const { migrations, relationExists, selectAppliedMigrations } = BY_DIALECT[dialect];
  const schema = tablesForDialect(dialect, options.schema ?? defaultSchema()).schema;
  const version = await installedVersion(knex, schema);
  let applied: AppliedMigration[] = [];
  if (await relationExists(knex, schema, MIGRATIONS_TABLE)) {
    applied = (await selectAppliedMigrations(knex, schema, MIGRATIONS_TABLE)).map((r) => ({ name: r.name, appliedAt: r.migration_time }));
  }
  if (applied.length === 0 && version !== null) {
    applied = migrations.slice(0, version).map((m) => ({ name: m.name, appliedAt: null }));
  }
  const done = new Set(applied.map((m) => m.name));
  return {
    schema,
    version,
    expectedVersion: SCHEMA_VERSION,
    applied,
    pending: migrations.filter((m) => !done.has(m.name)).map((m) => m.name),
    upToDate: version === SCHEMA_VERSION,
  };
}
