import { createRequire } from 'node:module';
import { afterCommit, knexConnectionSettings, knexDialect, knexPoolMax, SUPPORTED_PEERS, ValidationError } from '@onceflow/core';
import type { Knex } from 'knex';
import knexNewest from 'knex';
import knexOldest from 'knex-3.1';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestDatabase } from './support/database.ts';
import { createTestDatabase } from './support/database.ts';

const require = createRequire(import.meta.url);
const versionOf = (name: string): string => (require(`${name}/package.json`) as { version: string }).version;

// The oldest supported knex and the newest 3.x this workspace installs.
const KNEX_VERSIONS = [
  { name: 'knex-3.1', factory: knexOldest as unknown as typeof knexNewest },
  { name: 'knex', factory: knexNewest },
];

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase(2);
  await db.knex.raw('create table item (id int primary key)');
  // Checked only when the transaction commits: a COMMIT that fails.
  await db.knex.raw('create table unique_at_commit (id int, constraint one unique (id) deferrable initially deferred)');
});
afterAll(() => db?.drop());

/** A callback that counts its calls; `called` resolves on the first. */
function counter(): { count: () => number; called: Promise<void>; callback: () => void } {
  let n = 0;
  const { promise: called, resolve } = Promise.withResolvers<void>();
  return {
    count: () => n,
    called,
    callback: () => {
      n++;
      resolve();
    },
  };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 100));

describe.each(KNEX_VERSIONS)('the knex adapter with $name', ({ name, factory }) => {
  let knex: Knex;
  beforeAll(() => {
    knex = factory({ client: 'pg', connection: db.url, pool: { min: 0, max: 3 } });
  });
  afterAll(() => knex?.destroy());

  it('runs against a knex in the supported range', () => {
    const version = versionOf(name);
    expect(version.startsWith(`${SUPPORTED_PEERS.knex.belowMajor - 1}.`)).toBe(true);
    if (name === 'knex-3.1') expect(version).toBe(SUPPORTED_PEERS.knex.min);
  });

  it('runs the callback once, after the commit, where the committed rows are visible', async () => {
    const c = counter();
    let seen: unknown[] = [];
    await knex.transaction(async (trx) => {
      await trx('item').insert({ id: 1 });
      afterCommit(trx, async () => {
        seen = (await db.knex('item').where({ id: 1 })).map((r: { id: number }) => r.id);
        c.callback();
      });
      await settle();
      expect(c.count()).toBe(0);
    });
    await c.called;
    expect(seen).toEqual([1]);
    await settle();
    expect(c.count()).toBe(1);
    await db.knex('item').delete();
  });

  it('never runs it for a rollback, with or without an error', async () => {
    const c = counter();
    await knex
      .transaction(async (trx) => {
        afterCommit(trx, c.callback);
        throw new Error('roll back');
      })
      .catch(() => undefined);
    // knex resolves a transaction rolled back without an error just as a committed one.
    await knex.transaction(async (trx) => {
      afterCommit(trx, c.callback);
      await trx.rollback();
    });
    const unmanaged = await knex.transaction();
    afterCommit(unmanaged, c.callback);
    await unmanaged.rollback();
    await settle();
    expect(c.count()).toBe(0);
  });

  it('never runs it when the COMMIT itself fails', async () => {
    const c = counter();
    const failed = await knex
      .transaction(async (trx) => {
        await trx('unique_at_commit').insert([{ id: 1 }, { id: 1 }]);
        afterCommit(trx, c.callback);
      })
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(String(failed)).toMatch(/duplicate key/);
    await settle();
    expect(c.count()).toBe(0);
  });

  it('waits for the outer commit from a savepoint, and never runs when the outer transaction rolls back', async () => {
    const c = counter();
    await knex
      .transaction(async (trx) => {
        await trx.transaction(async (inner) => {
          afterCommit(inner, c.callback);
        });
        await settle();
        expect(c.count()).toBe(0);
        throw new Error('outer rolls back');
      })
      .catch(() => undefined);
    await settle();
    expect(c.count()).toBe(0);
  });

  it('runs once on the outer commit, also when the savepoint it was asked from rolled back', async () => {
    const fromInner = counter();
    const fromOuter = counter();
    await knex.transaction(async (trx) => {
      afterCommit(trx, fromOuter.callback);
      await trx
        .transaction(async (inner) => {
          afterCommit(inner, fromInner.callback);
          throw new Error('savepoint rolls back');
        })
        .catch(() => undefined);
      await trx.transaction(async (inner) => {
        await inner.rollback();
      });
    });
    await Promise.all([fromInner.called, fromOuter.called]);
    await settle();
    expect([fromInner.count(), fromOuter.count()]).toEqual([1, 1]);
  });

  it('runs many callbacks of one transaction once each, with one listener on it', async () => {
    const callbacks = Array.from({ length: 30 }, () => counter());
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const trx = await knex.transaction();
      for (const c of callbacks) afterCommit(trx, c.callback);
      expect(trx.listenerCount('query')).toBeLessThanOrEqual(2);
      await trx.commit();
      await Promise.all(callbacks.map((c) => c.called));
      await settle();
    } finally {
      process.off('warning', onWarning);
    }
    expect(callbacks.map((c) => c.count())).toEqual(callbacks.map(() => 1));
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
  });

  it('refuses what is not a transaction', () => {
    expect(() => afterCommit(knex as Knex.Transaction, () => undefined)).toThrow(ValidationError);
  });

  it('gives connection settings a fresh pg.Client connects with', async () => {
    const settings = await knexConnectionSettings(knex);
    const client = new pg.Client(settings);
    await client.connect();
    try {
      expect((await client.query('select current_database() as name')).rows[0].name).toBe(db.name);
    } finally {
      await client.end();
    }
  });

  it('keeps the password knex hides from enumeration, and reads a connection function', async () => {
    const config = { host: '127.0.0.1', port: 5432, user: 'onceflow', password: 'secret', database: 'x' };
    const direct = factory({ client: 'pg', connection: { ...config }, pool: { min: 0, max: 1 } });
    const provided = factory({
      client: 'pg',
      connection: async () => ({ ...config, expirationChecker: () => false }),
      pool: { min: 0, max: 1 },
    });
    try {
      for (const instance of [direct, provided]) {
        const settings = await knexConnectionSettings(instance);
        expect({ ...settings }).toEqual(config);
      }
    } finally {
      await Promise.all([direct.destroy(), provided.destroy()]);
    }
  });

  it('reports the size of the pool, and none for a transaction', async () => {
    expect(knexPoolMax(knex)).toBe(3);
    await knex.transaction(async (trx) => {
      expect(knexPoolMax(trx)).toBeUndefined();
    });
  });

  it('reports the dialect and driver, also of a transaction', async () => {
    expect(knexDialect(knex)).toEqual({ dialect: 'postgresql', driver: 'pg' });
    await knex.transaction(async (trx) => {
      expect(knexDialect(trx)).toEqual({ dialect: 'postgresql', driver: 'pg' });
    });
    const mysql = factory({ client: 'mysql2' });
    expect(knexDialect(mysql)).toEqual({ dialect: 'mysql', driver: 'mysql2' });
    await mysql.destroy();
  });
});
