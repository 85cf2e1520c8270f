import { describe, expect, it } from 'vitest';
import { databaseConnection } from './database-url.ts';

describe('databaseConnection', () => {
  it('gives knex pg for postgres:// and postgresql:// URLs', () => {
    expect(databaseConnection('postgres://u@db:5433/app')).toMatchObject({
      dialect: 'postgres',
      client: 'pg',
      connection: { connectionString: 'postgres://u@db:5433/app' },
      server: 'db:5433',
    });
    expect(databaseConnection('postgresql://u@db/app')).toMatchObject({ dialect: 'postgres', server: 'db:5432' });
  });

  it('gives knex mysql2 for mysql:// and mariadb:// URLs, decoding user and password, in UTC', () => {
    expect(databaseConnection('mysql://app%40svc:p%2Fw@db:3307/shop')).toMatchObject({
      dialect: 'mysql',
      client: 'mysql2',
      connection: { host: 'db', port: 3307, user: 'app@svc', password: 'p/w', database: 'shop', timezone: 'Z' },
      server: 'db:3307',
    });
    const noDatabase = databaseConnection('mariadb://root@127.0.0.1');
    expect(noDatabase).toMatchObject({ dialect: 'mysql', server: '127.0.0.1:3306' });
    expect(noDatabase.connection).not.toHaveProperty('database');
  });

  it('refuses other URLs naming the option and the scheme, never the URL', () => {
    expect(() => databaseConnection('')).toThrow(/Invalid option databaseUrl/);
    expect(() => databaseConnection('not a url')).toThrow(/not a URL/);
    expect(() => databaseConnection('sqlite://secret@x/y', 'DATABASE_URL')).toThrow(/DATABASE_URL.*sqlite:\/\//);
    expect(() => databaseConnection('mysql://u:secret@x/a/b')).toThrow(/at most one database name/);
    expect(() => databaseConnection('sqlite://u:secret@x/y')).not.toThrow(/secret/);
  });
});
