import knexFactory from 'knex';
import { afterAll, describe, expect, it } from 'vitest';
import { dialectOf } from './dialect.ts';
import { OptionError } from './errors.ts';

// No connection is given, so knex loads no driver and these need no server.
const made = ['pg', 'postgres', 'postgresql', 'mysql2', 'mysql', 'oracledb', 'mssql'].map((client) => ({
  client,
  knex: knexFactory({ client }),
}));
const of = (client: string) => made.find((m) => m.client === client)?.knex as ReturnType<typeof knexFactory>;

afterAll(async () => {
  await Promise.all(made.map((m) => m.knex.destroy()));
});

describe('dialectOf', () => {
  it("takes knex's PostgreSQL client names as postgres and its MySQL ones as mysql", () => {
    expect(dialectOf(of('pg'))).toBe('postgres');
    expect(dialectOf(of('postgres'))).toBe('postgres');
    expect(dialectOf(of('postgresql'))).toBe('postgres');
    expect(dialectOf(of('mysql2'))).toBe('mysql');
    expect(dialectOf(of('mysql'))).toBe('mysql');
  });

  it('decides from a client class given in place of a name', () => {
    const Client = of('mysql2').client.constructor as never;
    const knex = knexFactory({ client: Client });
    expect(dialectOf(knex)).toBe('mysql');
    void knex.destroy();
  });

  it('refuses any other client, naming it', () => {
    for (const client of ['oracledb', 'mssql']) {
      let caught: unknown;
      try {
        dialectOf(of(client));
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(OptionError);
      expect((caught as OptionError).option).toBe('knex');
      expect((caught as Error).message).toContain(`client \\"${client}\\"`);
      expect((caught as Error).message).toContain('"mysql2"');
    }
  });

  it('refuses something that is not a knex', () => {
    expect(() => dialectOf({} as never)).toThrow(OptionError);
  });
});
