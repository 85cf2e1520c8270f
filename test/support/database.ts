import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import knexFactory from 'knex';

/** The server tests use: DATABASE_URL, else the local PostgreSQL. */
export const SERVER_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** A fresh database of its own for one test file; `drop()` removes it. */
export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  readonly knex: Knex;
  drop(): Promise<void>;
}

/** A random lower-case name with a prefix, safe as identifier, topic and group id. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`;
}

/** Opens a knex pool on `url`. */
export function connect(url: string, pool = 10): Knex {
  return knexFactory({ client: 'pg', connection: url, pool: { min: 0, max: pool } });
}

/** Creates a new empty database and a pool on it. */
export async function createTestDatabase(pool = 10): Promise<TestDatabase> {
  const name = uniqueName('onceflow_test');
  const admin = connect(SERVER_URL, 1);
  try {
    await admin.raw(`create database "${name}"`);
  } finally {
    await admin.destroy();
  }
  const url = withDatabase(SERVER_URL, name);
  const knex = connect(url, pool);
  return {
    name,
    url,
    knex,
    async drop() {
      await knex.destroy();
      const admin2 = connect(SERVER_URL, 1);
      try {
        await admin2.raw(`drop database if exists "${name}" with (force)`);
      } finally {
        await admin2.destroy();
      }
    },
  };
}
