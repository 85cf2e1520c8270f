import { checkSchemaVersion, migrate, SCHEMA_VERSION } from '@onceflow/core';
import { migrations } from '@onceflow/migrations';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extraSchemas, onceflow, onceflowJson, schemaExists as schemaExistsOn, tableOf, unreachableUrl } from './support/cli.ts';
import type { TestDatabase } from './support/database.ts';
import { createTestDatabase } from './support/database.ts';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase(4);
});
afterAll(async () => {
  await db?.drop();
});
const uniqueName = extraSchemas(() => db);

const NAMES = migrations.map((m) => m.name);

interface Status {
  schema: string;
  version: number | null;
  expectedVersion: number;
  applied: Array<{ name: string; appliedAt: string | null }>;
  pending: string[];
  upToDate: boolean;
}

const schemaExists = (schema: string): Promise<boolean> => schemaExistsOn(db, schema);

/** Runs `script` as a team's own migration tool would: one multi-statement call of the server's own driver. */
async function runScript(script: string): Promise<void> {
  if (db.dialect === 'mysql') {
    const url = new URL(db.url);
    const connection = await mysql.createConnection({
      host: url.hostname,
      port: Number(url.port || 3306),
      user: decodeURIComponent(url.username),
      password: decodeURIComponent(url.password),
      multipleStatements: true,
    });
    try {
      await connection.query(script);
    } finally {
      await connection.end();
    }
    return;
  }
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    await client.query(script);
  } finally {
    await client.end();
  }
}

/** Onceflow's tables, columns, indexes and meta rows in `schema`, without knex's bookkeeping. */
async function catalog(schema: string): Promise<Record<string, unknown>> {
  if (db.dialect === 'mysql') {
    const columns = await db.rows(
      `select table_name, column_name, ordinal_position, column_type, is_nullable, column_default, generation_expression, collation_name
       from information_schema.columns where table_schema = ? and table_name not like 'knex_migrations%' order by 1, 3`,
      [schema],
    );
    const indexes = await db.rows(
      `select table_name, index_name, non_unique, seq_in_index, column_name from information_schema.statistics
       where table_schema = ? and table_name not like 'knex_migrations%' order by 1, 2, 4`,
      [schema],
    );
    const tables = await db.rows(
      `select table_name, engine, table_collation, row_format from information_schema.tables
       where table_schema = ? and table_name not like 'knex_migrations%' order by 1`,
      [schema],
    );
    const meta = await db.rows(`select name, value from ${tableOf(db, 'meta', schema)} order by name`);
    return { columns, indexes, tables, meta };
  }
  const columns = await db.rows(
    `select table_name, column_name, data_type, is_nullable, column_default from information_schema.columns
     where table_schema = ? and table_name <> 'knex_migrations' and table_name <> 'knex_migrations_lock' order by 1, 2`,
    [schema],
  );
  const indexes = await db.rows<{ indexname: string }>(
    `select indexname, replace(indexdef, ?, 'S.') as def from pg_indexes where schemaname = ? order by 1`,
    [`${schema}.`, schema],
  );
  const meta = await db.rows(`select name, value from ${tableOf(db, 'meta', schema)} order by name`);
  return { columns, indexes: indexes.filter((r) => !r.indexname.startsWith('knex_migrations')), meta };
}

describe('onceflow migrate', () => {
  it('applies the migrations, reports them in --json, and a second run applies none', async () => {
    const schema = uniqueName('mig');
    const first = await onceflowJson<{ schema: string; version: number; appliedNow: string[] }>(db.url, 'migrate', '--schema', schema);
    expect(first.json).toEqual({ schema, version: SCHEMA_VERSION, appliedNow: NAMES });
    await checkSchemaVersion(db.knex, schema);
    const again = await onceflowJson(db.url, 'migrate', '--schema', schema);
    expect(again.json).toEqual({ schema, version: SCHEMA_VERSION, appliedNow: [] });
    const text = await onceflow(db.url, 'migrate', '--schema', schema);
    expect(text.code).toBe(0);
    expect(text.stdout).toBe(`onceflow schema "${schema}" is up to date (version ${SCHEMA_VERSION})\n`);
  });
});

describe('onceflow migrate --status', () => {
  it('lists pending migrations of a missing schema without creating it', async () => {
    const schema = uniqueName('st');
    const { json } = await onceflowJson<Status>(db.url, 'migrate', '--status', '--schema', schema);
    expect(json).toEqual({ schema, version: null, expectedVersion: SCHEMA_VERSION, applied: [], pending: NAMES, upToDate: false });
    expect(await schemaExists(schema)).toBe(false);
    const text = await onceflow(db.url, 'migrate', '--status', '--schema', schema);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`run \`onceflow migrate --schema ${schema}\` to apply the pending migrations`);
  });

  it('shows applied and pending migrations of a schema one migration behind, then none pending', async () => {
    const schema = uniqueName('st');
    await migrate(db.knex, { schema });
    await db.knex.raw(`delete from ${tableOf(db, 'knex_migrations', schema)} where name = ?`, [NAMES.at(-1) as string]);
    await db.knex.raw(`update ${tableOf(db, 'meta', schema)} set value = ? where name = 'schema_version'`, [String(SCHEMA_VERSION - 1)]);
    const behind = (await onceflowJson<Status>(db.url, 'migrate', '--status', '--schema', schema)).json;
    expect(behind.version).toBe(SCHEMA_VERSION - 1);
    expect(behind.upToDate).toBe(false);
    expect(behind.applied.map((m) => m.name)).toEqual(NAMES.slice(0, -1));
    expect(behind.applied.every((m) => !Number.isNaN(Date.parse(m.appliedAt ?? '')))).toBe(true);
    expect(behind.pending).toEqual(NAMES.slice(-1));

    await onceflowJson(db.url, 'migrate', '--schema', schema);
    const current = (await onceflowJson<Status>(db.url, 'migrate', '--status', '--schema', schema)).json;
    expect(current).toMatchObject({ version: SCHEMA_VERSION, upToDate: true, pending: [] });
    expect(current.applied.map((m) => m.name)).toEqual(NAMES);
  });
});

describe('onceflow migrate --sql', () => {
  it('prints DDL without touching any database, which creates a working schema when applied', async () => {
    const schema = uniqueName('ddl');
    // An unreachable database: --sql must not need one; its URL names the dialect.
    const text = await onceflow(unreachableUrl(db), 'migrate', '--sql', '--schema', schema);
    expect(text.code).toBe(0);
    expect(text.stderr).toBe('');
    for (const name of NAMES) expect(text.stdout).toContain(`-- ${name}\n`);
    expect(text.stdout).toContain(
      db.dialect === 'mysql' ? `create table if not exists \`${schema}\`.outbox` : `create table "${schema}".outbox`,
    );
    expect(text.stdout).not.toMatch(/\?|\$\d/);
    expect(await schemaExists(schema)).toBe(false);

    const { json } = await onceflowJson<{ schema: string; migrations: Array<{ name: string; statements: string[] }> }>(
      unreachableUrl(db),
      'migrate',
      '--sql',
      '--schema',
      schema,
    );
    expect(json.schema).toBe(schema);
    expect(json.migrations.map((m) => m.name)).toEqual(NAMES);

    // A team's own migration tool runs the text as it is.
    await runScript(text.stdout);
    await checkSchemaVersion(db.knex, schema);
    const status = (await onceflowJson<Status>(db.url, 'migrate', '--status', '--schema', schema)).json;
    expect(status).toMatchObject({ version: SCHEMA_VERSION, upToDate: true, pending: [] });
    // `onceflow migrate` adopts it, and the schema works with the rest of the CLI.
    expect((await onceflowJson(db.url, 'migrate', '--schema', schema)).json).toMatchObject({ version: SCHEMA_VERSION, appliedNow: [] });
    expect((await onceflowJson<Status>(db.url, 'migrate', '--status', '--schema', schema)).json.applied.map((m) => m.name)).toEqual(NAMES);
    expect((await onceflowJson(db.url, 'status', '--schema', schema)).json).toEqual({ schema, topics: [], consumers: [] });
  });

  it('prints the same DDL as migrate() creates: identical catalog for both schemas', async () => {
    const viaSql = uniqueName('ddl');
    const viaMigrate = uniqueName('ddl');
    const text = await onceflow(db.url, 'migrate', '--sql', '--schema', viaSql);
    expect(text.code).toBe(0);
    await runScript(text.stdout);
    await migrate(db.knex, { schema: viaMigrate });
    const a = await catalog(viaSql);
    expect((a.indexes as unknown[]).length).toBeGreaterThan(5);
    expect(a).toEqual(await catalog(viaMigrate));
  });

  it('on MySQL and MariaDB prints steps that ask the catalogue, so the SQL finishes a half-done run as migrate() does', async () => {
    const text = await onceflow(db.url, 'migrate', '--sql', '--dialect', db.dialect);
    expect(text.code).toBe(0);
    if (db.dialect !== 'mysql') {
      // PostgreSQL's migrations never branch: plain DDL, nothing prepared.
      expect(text.stdout).not.toContain('prepare onceflow_step');
      return;
    }
    expect(text.stdout).toContain('prepare onceflow_step from @onceflow_step');
    const viaSql = uniqueName('ddl');
    const viaMigrate = uniqueName('ddl');
    const script = (await onceflow(db.url, 'migrate', '--sql', '--schema', viaSql)).stdout;
    // Stopped halfway through version 4: the inbox has its scope column but the old primary key.
    const upTo = (name: string) => script.slice(0, script.indexOf(`-- ${name}`));
    await runScript(upTo(NAMES[3] as string));
    await db.knex.raw(
      `alter table ${tableOf(db, 'inbox', viaSql)} add column scope varchar(249) character set ascii collate ascii_bin not null default '' after consumer`,
    );
    await runScript(script);
    // And once more over the finished schema: every guarded step finds its work done.
    await runScript(script);
    await migrate(db.knex, { schema: viaMigrate });
    expect(await catalog(viaSql)).toEqual(await catalog(viaMigrate));
  });
});
