import {
  checkSchemaVersion,
  dropSchema,
  installedVersion,
  knexMigrationConfig,
  MIGRATIONS_TABLE,
  migrate,
  SCHEMA_VERSION,
} from '@onceflow/core';
import { migrations } from '@onceflow/migrations';
import { mysqlMigrations } from '@onceflow/migrations/mysql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestDatabase } from './support/database.ts';
import { uniqueName } from './support/database.ts';
import { connectMariadb, createMariadbDatabase, rowsOf } from './support/mariadb.ts';

// The Onceflow schema is a database on MySQL; the test database itself is the first one, and
// tests that need another create `onceflow_test_*` databases beside it and drop them.
let db: TestDatabase;
const extra: string[] = [];

beforeAll(async () => {
  db = await createMariadbDatabase(4);
});
afterAll(async () => {
  for (const name of extra) await db?.knex.raw(`drop database if exists \`${name}\``);
  await db?.drop();
});

function otherDatabase(): string {
  const name = uniqueName('onceflow_test');
  extra.push(name);
  return name;
}

async function tables(schema: string) {
  return rowsOf<{ name: string; engine: string; collation: string }>(
    await db.knex.raw(
      `select table_name as name, engine, table_collation as collation from information_schema.tables
       where table_schema = ? order by table_name`,
      [schema],
    ),
  );
}

/** Indexes of `table` as `name: unique? columns`, e.g. `PRIMARY: unique seq`. */
async function indexes(schema: string, table: string): Promise<Record<string, string>> {
  const rows = rowsOf<{ name: string; nonUnique: number | string; columns: string }>(
    await db.knex.raw(
      `select index_name as name, max(non_unique) as nonUnique, group_concat(column_name order by seq_in_index) as columns
       from information_schema.statistics where table_schema = ? and table_name = ? group by index_name`,
      [schema, table],
    ),
  );
  return Object.fromEntries(rows.map((r) => [r.name, `${Number(r.nonUnique) === 0 ? 'unique ' : ''}${r.columns}`]));
}

async function recorded(schema: string): Promise<Array<{ name: string; batch: number }>> {
  return rowsOf(await db.knex.raw(`select name, batch from \`${schema}\`.${MIGRATIONS_TABLE} order by id`));
}

describe('migrate on MariaDB', () => {
  it('creates the tables and unique indexes of schema version 6 in the database named by the schema', async () => {
    await migrate(db.knex, { schema: db.name });

    const found = await tables(db.name);
    expect(found.map((t) => t.name).sort()).toEqual(
      ['dead_letters', 'inbox', 'key_locks', 'knex_migrations', 'knex_migrations_lock', 'meta', 'outbox', 'relay_shards', 'relays'].sort(),
    );
    for (const t of found.filter((t) => !t.name.startsWith('knex_'))) {
      expect(t, t.name).toMatchObject({ engine: 'InnoDB', collation: 'utf8mb4_bin' });
    }
    expect(await indexes(db.name, 'outbox')).toEqual({
      PRIMARY: 'unique seq',
      outbox_id: 'unique id',
      outbox_topic_idempotency_key: 'unique topic,idempotency_key',
      outbox_pending: 'pending_shard',
      outbox_holds_key: 'held_key',
      outbox_dead: 'is_dead',
    });
    expect(await indexes(db.name, 'inbox')).toEqual({ PRIMARY: 'unique consumer,scope,dedup_key', inbox_processed_at: 'processed_at' });
    expect(await indexes(db.name, 'dead_letters')).toEqual({
      PRIMARY: 'unique id',
      dead_letters_consumer: 'consumer,live',
      dead_letters_record: 'unique consumer,topic,partition,offset,live',
      dead_letters_dedup_key: 'unique consumer,scope,dedup_key,live',
    });
    expect(await indexes(db.name, 'key_locks')).toEqual({ PRIMARY: 'unique lock_id' });
    expect(await indexes(db.name, 'relay_shards')).toEqual({ PRIMARY: 'unique shard' });
    expect(await indexes(db.name, 'relays')).toEqual({ PRIMARY: 'unique relay_id' });

    // Keys compared by unique indexes are bytes, so they compare exactly (no PAD SPACE).
    const keyColumns = rowsOf<{ t: string; c: string; type: string }>(
      await db.knex.raw(
        `select table_name as t, column_name as c, column_type as type from information_schema.columns
         where table_schema = ? and column_name in ('key', 'idempotency_key', 'dedup_key', 'consumer') order by t, c`,
        [db.name],
      ),
    );
    expect(keyColumns).toEqual([
      { t: 'dead_letters', c: 'consumer', type: 'varbinary(800)' },
      { t: 'dead_letters', c: 'dedup_key', type: 'varbinary(1024)' },
      { t: 'dead_letters', c: 'key', type: 'longtext' },
      { t: 'inbox', c: 'consumer', type: 'varbinary(800)' },
      { t: 'inbox', c: 'dedup_key', type: 'varbinary(1024)' },
      { t: 'outbox', c: 'idempotency_key', type: 'varbinary(1024)' },
      { t: 'outbox', c: 'key', type: 'varbinary(1024)' },
    ]);

    const meta = rowsOf<{ name: string; value: string }>(await db.knex.raw(`select name, value from \`${db.name}\`.meta order by name`));
    expect(meta).toEqual([
      { name: 'schema_version', value: String(SCHEMA_VERSION) },
      { name: 'shard_count', value: '32' },
    ]);
    const shards = rowsOf<{ n: number }>(await db.knex.raw(`select count(*) as n from \`${db.name}\`.relay_shards`));
    expect(Number(shards[0]?.n)).toBe(32);
    // The same names as on PostgreSQL, so a database at version N has recorded the same N.
    expect((await recorded(db.name)).map((m) => m.name)).toEqual(migrations.map((m) => m.name));
    expect(mysqlMigrations.map((m) => m.name)).toEqual(migrations.map((m) => m.name));
    expect(await installedVersion(db.knex, db.name)).toBe(SCHEMA_VERSION);
    await checkSchemaVersion(db.knex, db.name);
  });

  it('changes nothing when run again', async () => {
    await migrate(db.knex, { schema: db.name });
    const before = await recorded(db.name);
    await migrate(db.knex, { schema: db.name });
    expect(await recorded(db.name)).toEqual(before);
    expect(before.every((m) => m.batch === 1)).toBe(true);
  });

  it('refuses a database at a newer version, or without Onceflow tables, with a SchemaVersionError', async () => {
    await db.knex.raw(`update \`${db.name}\`.meta set value = ? where name = 'schema_version'`, [String(SCHEMA_VERSION + 1)]);
    try {
      await expect(checkSchemaVersion(db.knex, db.name)).rejects.toMatchObject({
        name: 'SchemaVersionError',
        code: 'ONCEFLOW_SCHEMA_VERSION',
        found: SCHEMA_VERSION + 1,
        expected: SCHEMA_VERSION,
        message: expect.stringContaining('newer than this code understands'),
      });
    } finally {
      await db.knex.raw(`update \`${db.name}\`.meta set value = ? where name = 'schema_version'`, [String(SCHEMA_VERSION)]);
    }
    const missing = otherDatabase();
    await expect(checkSchemaVersion(db.knex, missing)).rejects.toMatchObject({ name: 'SchemaVersionError', found: null });
    await expect(checkSchemaVersion(db.knex, missing)).rejects.toThrow(`onceflow migrate --schema ${missing}`);
  });

  it('finishes a migration that stopped halfway when run again (MySQL commits each DDL statement)', async () => {
    const schema = otherDatabase();
    await migrate(db.knex, { schema });
    // What version 6 leaves when the server stops between its two ALTERs: raw_key added,
    // raw_headers not, the version and the bookkeeping row not written.
    await db.knex.raw(`alter table \`${schema}\`.dead_letters drop column raw_headers`);
    await db.knex.raw(`delete from \`${schema}\`.${MIGRATIONS_TABLE} where name = ?`, [migrations[5]?.name ?? '']);
    await db.knex.raw(`update \`${schema}\`.meta set value = '5' where name = 'schema_version'`);
    await expect(checkSchemaVersion(db.knex, schema)).rejects.toMatchObject({ found: 5 });

    await migrate(db.knex, { schema });
    await checkSchemaVersion(db.knex, schema);
    const columns = rowsOf<{ c: string }>(
      await db.knex.raw(
        "select column_name as c from information_schema.columns where table_schema = ? and table_name = 'dead_letters' and column_name like 'raw%' order by c",
        [schema],
      ),
    );
    expect(columns.map((r) => r.c)).toEqual(['raw_headers', 'raw_key']);

    // And version 4's primary key rebuild, skipped when the catalogue shows it done.
    await db.knex.raw(
      `delete from \`${schema}\`.${MIGRATIONS_TABLE} where name in (?, ?, ?)`,
      migrations.slice(3).map((m) => m.name),
    );
    await db.knex.raw(`update \`${schema}\`.meta set value = '3' where name = 'schema_version'`);
    await migrate(db.knex, { schema });
    await checkSchemaVersion(db.knex, schema);
    expect((await indexes(schema, 'inbox')).PRIMARY).toBe('unique consumer,scope,dedup_key');
  });

  it('lets several processes migrate one new database at once, and plain knex use the same bookkeeping', async () => {
    const plain = connectMariadb(undefined, 2);
    const pools = [plain, connectMariadb(undefined, 2), connectMariadb(undefined, 2)];
    try {
      // Several rounds: the races (knex's bookkeeping and lock tables made twice) are timing.
      for (let round = 0; round < 4; round++) {
        const schema = otherDatabase();
        await Promise.all(pools.map((knex) => migrate(knex, { schema })));
        await checkSchemaVersion(db.knex, schema);
        expect((await recorded(schema)).map((m) => m.name)).toEqual(migrations.map((m) => m.name));
        const locks = rowsOf(await db.knex.raw(`select is_locked from \`${schema}\`.${MIGRATIONS_TABLE}_lock`));
        expect(locks).toEqual([{ is_locked: 0 }]);
        // Plain knex with the config Onceflow prepares finds nothing left to do.
        const [, pending] = (await plain.migrate.list(await knexMigrationConfig(db.knex, { schema }))) as [unknown, unknown[]];
        expect(pending).toEqual([]);
      }
    } finally {
      await Promise.all(pools.map((knex) => knex.destroy()));
    }
  });

  it("drops Onceflow's tables but never the application's own", async () => {
    const schema = otherDatabase();
    await migrate(db.knex, { schema });
    await db.knex.raw(`create table \`${schema}\`.orders (id int primary key)`);
    await dropSchema(db.knex, schema);
    expect((await tables(schema)).map((t) => t.name)).toEqual(['orders']);
    await db.knex.raw(`drop table \`${schema}\`.orders`);
    await migrate(db.knex, { schema });
    await dropSchema(db.knex, schema);
    const left = rowsOf(await db.knex.raw('select schema_name from information_schema.schemata where schema_name = ?', [schema]));
    expect(left).toEqual([]);
  });
});
