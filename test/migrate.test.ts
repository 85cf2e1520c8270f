import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { checkSchemaVersion, MIGRATIONS_TABLE, migrate, SCHEMA_VERSION } from '@onceflow/core';
import { migrations } from '@onceflow/migrations';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliEnv, extraSchemas, tableOf } from './support/cli.ts';
import type { TestDatabase } from './support/database.ts';
import { createTestDatabase } from './support/database.ts';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase(4);
});
afterAll(async () => {
  await db?.drop();
});
// Onceflow schemas of their own: on MariaDB, databases beside the test database.
const uniqueName = extraSchemas(() => db);

/** How many dead_letters_dedup_key indexes `schema` has (0 or 1). */
const dedupIndex = async (schema: string): Promise<number> => {
  const rows =
    db.dialect === 'mysql'
      ? await db.rows(
          `select count(distinct index_name) as n from information_schema.statistics
           where table_schema = ? and table_name = 'dead_letters' and index_name = 'dead_letters_dedup_key'`,
          [schema],
        )
      : await db.rows(`select count(*)::int as n from pg_indexes where schemaname = ? and indexname = 'dead_letters_dedup_key'`, [schema]);
  return Number(rows[0]?.n);
};

/** Drops the dead letters' dedup index, as databases made before version 3 lack it. */
const dropDedupIndex = (schema: string) =>
  db.knex.raw(
    db.dialect === 'mysql'
      ? `alter table ${tableOf(db, 'dead_letters', schema)} drop index dead_letters_dedup_key`
      : `drop index "${schema}".dead_letters_dedup_key`,
  );

describe('migrate', () => {
  it('gives a database migrated to version 2 before dead_letters_dedup_key existed that index, and version 3', async () => {
    const schema = uniqueName('mig');
    await migrate(db.knex, { schema });
    expect(SCHEMA_VERSION).toBe(6);
    // Turn it back into what the version 1 and 2 migrations left before the index was added
    // (versions 4 to 6 are redone by running them again).
    await dropDedupIndex(schema);
    const bookkeeping = tableOf(db, 'knex_migrations', schema);
    await db.knex.raw(`delete from ${bookkeeping} where name = '20261122000003_onceflow_dead_letter_dedup_key.js'`);
    await db.knex.raw(`delete from ${bookkeeping} where name = '20261129000004_onceflow_dedup_scope.js'`);
    await db.knex.raw(`delete from ${bookkeeping} where name = '20261129000005_onceflow_holds_key_hashed.js'`);
    await db.knex.raw(`delete from ${bookkeeping} where name = '20261129000006_onceflow_dead_letter_raw_bytes.js'`);
    await db.knex.raw(`update ${tableOf(db, 'meta', schema)} set value = '2' where name = 'schema_version'`);
    await expect(checkSchemaVersion(db.knex, schema)).rejects.toMatchObject({ name: 'SchemaVersionError' });
    expect(await dedupIndex(schema)).toBe(0);

    await migrate(db.knex, { schema });
    expect(await dedupIndex(schema)).toBe(1);
    await checkSchemaVersion(db.knex, schema);

    // Migrating again (an up-to-date database) changes nothing.
    await migrate(db.knex, { schema });
    expect(await dedupIndex(schema)).toBe(1);
  });
});

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const EXAMPLES = fileURLToPath(new URL('../examples', import.meta.url));

/** Plain knex's CLI with the documented knexfile recipe (examples/knexfile.onceflow.mjs). */
async function knexCli(schema: string, ...args: string[]): Promise<string> {
  const cli = fileURLToPath(new URL('../node_modules/knex/bin/cli.js', import.meta.url));
  const { stdout } = await run(process.execPath, [cli, '--knexfile', 'knexfile.onceflow.mjs', ...args], {
    cwd: EXAMPLES,
    env: { ...cliEnv(db.url), ONCEFLOW_SCHEMA: schema },
  });
  return stdout;
}

/** The `onceflow` command, from its sources. */
async function onceflowCli(...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, ['packages/relay/src/cli/bin.ts', ...args], {
    cwd: ROOT,
    env: cliEnv(db.url),
  });
  return stdout;
}

const recorded = async (schema: string): Promise<string[]> =>
  (await db.knex.withSchema(schema).from(MIGRATIONS_TABLE).orderBy('id').pluck('name')) as string[];

describe('the three ways of migrating share one bookkeeping table', () => {
  it('knex CLI, then migrate(), then `onceflow migrate`, each sees what the others applied', async () => {
    const schema = uniqueName('mix');
    const names = migrations.map((m) => m.name);
    expect(names.length).toBe(SCHEMA_VERSION);

    // Plain knex applies only the first migration (and creates the schema itself).
    await knexCli(schema, 'migrate:up');
    expect(await recorded(schema)).toEqual(names.slice(0, 1));

    await migrate(db.knex, { schema });
    expect(await recorded(schema)).toEqual(names);
    await checkSchemaVersion(db.knex, schema);

    expect(await onceflowCli('migrate', '--schema', schema)).toContain('is up to date');
    expect(await knexCli(schema, 'migrate:status')).toContain('No Pending Migration files Found');
    expect(await recorded(schema)).toEqual(names);
  });

  it('`onceflow migrate`, a knex CLI rollback, then migrate() re-applies just the rolled-back migration', async () => {
    const schema = uniqueName('mix');
    await onceflowCli('migrate', '--schema', schema);
    await knexCli(schema, 'migrate:down');
    const versionAfterDown = await db.knex.withSchema(schema).from('meta').where({ name: 'schema_version' }).first('value');
    expect(Number(versionAfterDown.value)).toBe(SCHEMA_VERSION - 1);
    await expect(checkSchemaVersion(db.knex, schema)).rejects.toMatchObject({ name: 'SchemaVersionError' });

    await migrate(db.knex, { schema });
    await checkSchemaVersion(db.knex, schema);
    expect(await recorded(schema)).toEqual(migrations.map((m) => m.name));
  });

  it('adopts a schema whose bookkeeping lived elsewhere (the old root knexfile) without re-running a migration', async () => {
    // What the old root knexfile left: the tables at version 2, its bookkeeping outside the schema.
    const schema = uniqueName('legacy');
    await migrate(db.knex, { schema });
    await dropDedupIndex(schema);
    await db.knex.raw(`update ${tableOf(db, 'meta', schema)} set value = '2' where name = 'schema_version'`);
    await db.knex.schema.withSchema(schema).dropTable(MIGRATIONS_TABLE).dropTable(`${MIGRATIONS_TABLE}_lock`);

    // On PostgreSQL migration 1 would fail ("relation already exists") if it ran again; only 3
    // to 6 may run, on either server.
    await migrate(db.knex, { schema });
    await checkSchemaVersion(db.knex, schema);
    expect(await dedupIndex(schema)).toBe(1);
    const rows = await db.knex.withSchema(schema).from(MIGRATIONS_TABLE).orderBy('id').select('name', 'batch');
    // Adopted: the first two in one batch; applied now: the rest in the next.
    expect(rows).toEqual(migrations.map((m, i) => ({ name: m.name, batch: i < 2 ? 1 : 2 })));
  });

  it('lets several processes migrate one fresh schema at once', async () => {
    const schema = uniqueName('race');
    await Promise.all([migrate(db.knex, { schema }), migrate(db.knex, { schema }), onceflowCli('migrate', '--schema', schema)]);
    await checkSchemaVersion(db.knex, schema);
    expect(await recorded(schema)).toEqual(migrations.map((m) => m.name));
  });
});
