import { checkSchemaVersion, migrate, SCHEMA_VERSION } from '@onceflow/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestDatabase } from './support/database.ts';
import { createTestDatabase, uniqueName } from './support/database.ts';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase(4);
});
afterAll(async () => {
  await db?.drop();
});

const dedupIndex = async (schema: string): Promise<number> => {
  const r = await db.knex.raw(`select count(*)::int as n from pg_indexes where schemaname = ? and indexname = 'dead_letters_dedup_key'`, [
    schema,
  ]);
  return r.rows[0].n as number;
};

describe('migrate', () => {
  it('gives a database migrated to version 2 before dead_letters_dedup_key existed that index, and version 3', async () => {
    const schema = uniqueName('mig');
    await migrate(db.knex, { schema });
    expect(SCHEMA_VERSION).toBe(5);
    // Turn it back into what the version 1 and 2 migrations left before the index was added
    // (versions 4 and 5 are redone by running them again).
    await db.knex.raw(`drop index "${schema}".dead_letters_dedup_key`);
    await db.knex.raw(`delete from "${schema}".knex_migrations where name = '20261122000003_onceflow_dead_letter_dedup_key.js'`);
    await db.knex.raw(`delete from "${schema}".knex_migrations where name = '20261129000004_onceflow_dedup_scope.js'`);
    await db.knex.raw(`delete from "${schema}".knex_migrations where name = '20261129000005_onceflow_holds_key_hashed.js'`);
    await db.knex.raw(`update "${schema}".meta set value = '2' where name = 'schema_version'`);
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
