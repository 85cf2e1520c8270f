import type { OnceflowMigration } from '@onceflow/migrations';
import { migrations } from '@onceflow/migrations';
import { mysqlMigrations } from '@onceflow/migrations/mysql';
import type { Knex } from 'knex';
import knexFactory from 'knex';
import type { Dialect } from './dialect.ts';
import { ErrorCodes, OnceflowError, OptionError } from './errors.ts';
import { mysqlMigrationStatements } from './migration-sql-mysql.ts';
import { defaultSchema } from './schema.ts';
import { tablesForDialect } from './schema-mysql.ts';

/** Options of {@link migrationSql}. */
export interface MigrationSqlOptions {
  /** Schema for Onceflow's tables (on MySQL, the database). @defaultValue ONCEFLOW_SCHEMA, else "onceflow" */
  schema?: string;
  /** The server the SQL is for. @defaultValue "postgres" */
  dialect?: Dialect;
}

/** One migration's statements, as {@link migrationSql} returns them. */
export interface MigrationSql {
  readonly name: string;
  /** The statements in the order the migration runs them, without a trailing semicolon. */
  readonly statements: readonly string[];
}

/**
 * The SQL of every Onceflow migration for `schema`, for teams that apply DDL with their own
 * migration tool. Nothing connects to a database.
 *
 * Each migration runs against a recording stand-in for knex: `raw(sql, bindings)` is compiled
 * by a connectionless knex of the dialect (`toQuery()`, the same quoting and binding rules as
 * a real run) and recorded. A rolled-back transaction capturing knex's `query` events would
 * show what one particular database lacks, and needs a connection; this shows the whole DDL
 * from an empty schema, the same text on every machine. On PostgreSQL it is exact because the
 * migrations only issue `knex.raw` and never branch on a query's result; any other use of knex
 * throws here instead of printing incomplete DDL. The MySQL migrations do branch, on catalogue
 * probes that make them safe to run again; their SQL asks the catalogue the same questions (see
 * `mysqlMigrationStatements`), so it gives what `migrate()` gives on any starting state.
 */
export async function migrationSql(options: MigrationSqlOptions = {}): Promise<MigrationSql[]> {
  const dialect = options.dialect ?? 'postgres';
  if (dialect !== 'postgres' && dialect !== 'mysql') throw new OptionError('dialect', dialect, '"postgres" or "mysql"');
  const schema = tablesForDialect(dialect, options.schema ?? defaultSchema()).schema;
  const compiler = knexFactory({ client: dialect === 'mysql' ? 'mysql2' : 'pg' });
  try {
    const result: MigrationSql[] = [];
    for (const migration of dialect === 'mysql' ? mysqlMigrations : migrations) {
      const statements =
        dialect === 'mysql'
          ? await mysqlMigrationStatements(migration, schema, compiler)
          : await postgresStatements(migration, schema, compiler);
      result.push({ name: migration.name, statements });
    }
    return result;
  } finally {
    await compiler.destroy();
  }
}

/** The statements of one PostgreSQL migration, recorded in the order it runs them. */
async function postgresStatements(migration: OnceflowMigration, schema: string, compiler: Knex): Promise<string[]> {
  const statements: string[] = [];
  const recorder = {
    userParams: { schema },
    raw: (sql: string, bindings?: readonly Knex.RawBinding[]) => {
      const raw = bindings === undefined ? compiler.raw(sql) : compiler.raw(sql, bindings as Knex.RawBinding[]);
      statements.push(raw.toQuery().trim());
      return Promise.resolve({ rows: [], rowCount: 0 });
    },
  };
  const stand = new Proxy(recorder, {
    get(target, property) {
      if (property in target) return target[property as keyof typeof target];
      if (property === 'then') return undefined;
      throw new OnceflowError(
        ErrorCodes.runtime,
        `migration ${migration.name} uses knex.${String(property)}, which migrationSql cannot record; apply it with onceflow migrate`,
      );
    },
  });
  await migration.module.up(stand as unknown as Knex);
  return statements;
}
