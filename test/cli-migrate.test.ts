import { checkSchemaVersion, migrate, SCHEMA_VERSION } from '@onceflow/core';
import { migrations } from '@onceflow/migrations';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onceflow, onceflowJson } from './support/cli.ts';
import type { TestDatabase } from './support/database.ts';
import { createTestDatabase, uniqueName } from './support/database.ts';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase(4);
});
afterAll(async () => {
  await db?.drop();
});

const NAMES = migrations.map((m) => m.name);

interface Status {
  schema: string;
  version: number | null;
  expectedVersion: number;
  applied: Array<{ name: string; appliedAt: string | null }>;
  pending: string[];
  upToDate: boolean;
}

const schemaExists = async (schema: string): Promise<boolean> =>
  (await db.knex.raw('select to_regnamespace(?) is not null as present', [`"${schema}"`])).rows[0].present === true;

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
    await db.knex.raw(`delete from "${schema}".knex_migrations where name = ?`, [NAMES.at(-1) as string]);
    await db.knex.raw(`update "${schema}".meta set value = ? where name = 'schema_version'`, [String(SCHEMA_VERSION - 1)]);
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
    // An unreachable database: --sql must not need one.
    const text = await onceflow('postgres://nobody@127.0.0.1:1/none', 'migrate', '--sql', '--schema', schema);
    expect(text.code).toBe(0);
    expect(text.stderr).toBe('');
    for (const name of NAMES) expect(text.stdout).toContain(`-- ${name}\n`);
    expect(text.stdout).toContain(`create table "${schema}".outbox`);
    expect(text.stdout).not.toMatch(/\?|\$\d/);
    expect(await schemaExists(schema)).toBe(false);

    const { json } = await onceflowJson<{ schema: string; migrations: Array<{ name: string; statements: string[] }> }>(
      'postgres://nobody@127.0.0.1:1/none',
      'migrate',
      '--sql',
      '--schema',
      schema,
    );
    expect(json.schema).toBe(schema);
    expect(json.migrations.map((m) => m.name)).toEqual(NAMES);

    // A team's own migration tool runs the text as it is.
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      await client.query(text.stdout);
    } finally {
      await client.end();
    }
    await checkSchemaVersion(db.knex, schema);
    const status = (await onceflowJson<Status>(db.url, 'migrate', '--status', '--schema', schema)).json;
    expect(status).toMatchObject({ version: SCHEMA_VERSION, upToDate: true, pending: [] });
    // The schema works with the rest of the CLI, and `onceflow migrate` adopts it.
    expect((await onceflowJson(db.url, 'status', '--schema', schema)).json).toEqual({ schema, topics: [], consumers: [] });
    expect((await onceflowJson(db.url, 'migrate', '--schema', schema)).json).toMatchObject({ version: SCHEMA_VERSION, appliedNow: [] });
  });

  it('prints the same DDL as migrate() creates: identical catalog for both schemas', async () => {
    const viaSql = uniqueName('ddl');
    const viaMigrate = uniqueName('ddl');
    const text = await onceflow(db.url, 'migrate', '--sql', '--schema', viaSql);
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      await client.query(text.stdout);
    } finally {
      await client.end();
    }
    await migrate(db.knex, { schema: viaMigrate });
    const catalog = async (schema: string) => {
      const columns = await db.knex.raw(
        `select table_name, column_name, data_type, is_nullable, column_default from information_schema.columns
         where table_schema = ? and table_name <> 'knex_migrations' and table_name <> 'knex_migrations_lock' order by 1, 2`,
        [schema],
      );
      const indexes = await db.knex.raw(
        `select indexname, replace(indexdef, ?, 'S.') as def from pg_indexes where schemaname = ? order by 1`,
        [`${schema}.`, schema],
      );
      const meta = await db.knex.raw(`select name, value from "${schema}".meta order by name`);
      return {
        columns: columns.rows,
        indexes: indexes.rows.filter((r: { indexname: string }) => !r.indexname.startsWith('knex_migrations')),
        meta: meta.rows,
      };
    };
    const a = await catalog(viaSql);
    expect(a.indexes.length).toBeGreaterThan(5);
    expect(a).toEqual(await catalog(viaMigrate));
  });
});
