import { describe, expect, it } from 'vitest';
import { OptionError } from './errors.ts';
import { tablesFor } from './schema.ts';
import { mysqlTablesFor, tablesForDialect } from './schema-mysql.ts';

describe('table names per dialect', () => {
  it('quotes with backticks on MySQL, where the schema is a database, and adds the key-lock table', () => {
    expect(mysqlTablesFor('shop')).toMatchObject({
      schema: 'shop',
      outbox: '`shop`.`outbox`',
      inbox: '`shop`.`inbox`',
      relayShards: '`shop`.`relay_shards`',
      relays: '`shop`.`relays`',
      deadLetters: '`shop`.`dead_letters`',
      meta: '`shop`.`meta`',
      keyLocks: '`shop`.`key_locks`',
    });
  });

  it('leaves the PostgreSQL names as tablesFor gives them', () => {
    expect(tablesForDialect('postgres', 'shop')).toEqual(tablesFor('shop'));
    expect(tablesForDialect('postgres', 'shop').outbox).toBe('"shop"."outbox"');
    expect(tablesForDialect('mysql', 'shop').outbox).toBe('`shop`.`outbox`');
  });

  it('refuses a schema that is not a plain identifier, on MySQL too', () => {
    expect(() => mysqlTablesFor('shop`; drop database x; --')).toThrow(OptionError);
    expect(() => mysqlTablesFor('Shop')).toThrow(OptionError);
  });
});
