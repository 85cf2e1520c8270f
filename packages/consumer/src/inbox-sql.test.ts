import knexFactory from 'knex';
import { describe, expect, it } from 'vitest';
import { resolveInboxOptions } from './inbox-options.ts';
import { inboxSqlAndTables, inboxSqlFor } from './inbox-sql.ts';
import { MysqlLeaseStore } from './side-effect/mysql-lease-store.ts';

const pg = knexFactory({ client: 'pg' });
const mysql = knexFactory({ client: 'mysql2' });

describe('inboxSqlFor', () => {
  it("picks the SQL of the knex's dialect once, with the table names quoted for it", () => {
    expect(inboxSqlFor(pg).dialect).toBe('postgres');
    expect(inboxSqlFor(mysql).dialect).toBe('mysql');
    expect(inboxSqlAndTables(mysql, 'shop').tables.inbox).toBe('`shop`.`inbox`');
    expect(inboxSqlAndTables(pg, 'shop').tables.inbox).toBe('"shop"."inbox"');
    const options = resolveInboxOptions({ knex: mysql, consumerName: 'rewards', schema: 'shop' });
    expect(options.sql).toBe(inboxSqlFor(mysql));
    expect(options.tables.deadLetters).toBe('`shop`.`dead_letters`');
  });

  it('refuses a knex of another client by option, and a PostgreSQL knex for MysqlLeaseStore', () => {
    expect(() => resolveInboxOptions({ knex: knexFactory({ client: 'sqlite3', useNullAsDefault: true }), consumerName: 'x' })).toThrow(
      expect.objectContaining({ option: 'knex' }),
    );
    expect(() => new MysqlLeaseStore({ knex: pg })).toThrow(expect.objectContaining({ option: 'knex' }));
    expect(() => new MysqlLeaseStore({ knex: mysql, schema: 'shop' })).not.toThrow();
  });
});
