import type { OnceflowMigration } from '@onceflow/migrations';
import knexFactory from 'knex';
import { describe, expect, it } from 'vitest';
import { migrationSql } from './migration-sql.ts';
import { mysqlMigrationStatements } from './migration-sql-mysql.ts';

describe('migrationSql on MySQL', () => {
  it('prints plain statements, and each catalogue-guarded step as a prepared statement chosen by the catalogue', async () => {
    const all = await migrationSql({ schema: 'shop', dialect: 'mysql' });
    const statements = all.flatMap((m) => m.statements);
    expect(statements[0]).toBe('create database if not exists `shop` character set utf8mb4 collate utf8mb4_bin');
    expect(statements.join('\n')).not.toMatch(/\?/);
    const guards = statements.filter((s) => s.startsWith('set @onceflow_step'));
    // Version 3's index, version 4's two columns and two indexes, version 6's two columns.
    expect(guards).toHaveLength(7);
    for (const guard of guards) {
      const at = statements.indexOf(guard);
      expect(statements.slice(at + 1, at + 4)).toEqual([
        'prepare onceflow_step from @onceflow_step',
        'execute onceflow_step',
        'deallocate prepare onceflow_step',
      ]);
    }
    expect(guards[2]).toContain(
      "coalesce((select group_concat(column_name order by seq_in_index separator ',') from information_schema.statistics where table_schema = 'shop' and table_name = 'inbox' and index_name = 'PRIMARY'), '') <> 'consumer,scope,dedup_key'",
    );
    // The statement's quotes are doubled inside the literal.
    expect(guards[1]).toContain("not null default '''' after consumer");
  });

  it('refuses a migration whose query it cannot turn into SQL, naming it', async () => {
    const compiler = knexFactory({ client: 'mysql2' });
    const branching: OnceflowMigration = {
      name: '20990101000001_branching.js',
      module: {
        async up(knex) {
          const [rows] = (await knex.raw('select count(*) as n from orders')) as unknown as [Array<{ n: number }>];
          if (rows.length === 0) await knex.raw('create table t (id int)');
        },
        async down() {},
      },
    };
    try {
      await expect(mysqlMigrationStatements(branching, 'shop', compiler)).rejects.toThrow(
        /migration 20990101000001_branching\.js uses a query migrationSql does not know/,
      );
    } finally {
      await compiler.destroy();
    }
  });

  it('refuses an unknown dialect and a schema that is no database name, naming the option', async () => {
    await expect(migrationSql({ dialect: 'sqlite' as never })).rejects.toThrow(/Invalid option dialect/);
    await expect(migrationSql({ schema: 'Shop-DB', dialect: 'mysql' })).rejects.toThrow(/Invalid option schema.*Shop-DB/);
  });
});
