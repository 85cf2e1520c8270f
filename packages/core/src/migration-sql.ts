import { migrations } from '@onceflow/migrations';
import type { Knex } from 'knex';
import knexFactory from 'knex';
import { ErrorCodes, OnceflowError } from './errors.ts';
import { defaultSchema, tablesFor } from './schema.ts';

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
 * by a connectionless pg knex (`toQuery()`, the same quoting and binding rules as a real run)
 * and recorded. A rolled-back transaction capturing knex's `query` events would show what one
 * particular database lacks, and needs a connection; this shows the whole DDL from an empty
 * schema, the same text on every machine. It is exact because the migrations only issue
 * `knex.raw` and never branch on a query's result; any other use of knex throws here instead of
 * printing incomplete DDL.
 */
export async function migrationSql(options: { schema?: string } = {}): Promise<MigrationSql[]> {
  const schema = tablesFor(options.schema ?? defaultSchema()).schema;
  const compiler = knexFactory({ client: 'pg' });
  const result: MigrationSql[] = [];
  try {
    for (const migration of migrations) {
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
      result.push({ name: migration.name, statements });
    }
  } finally {
    await compiler.destroy();
  }
  return result;
}
