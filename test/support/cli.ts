import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { migrate } from '@onceflow/core';
import { afterAll, beforeAll } from 'vitest';
import type { TestDatabase } from './database.ts';
import { createTestDatabase, uniqueName } from './database.ts';
import { connectMariadb } from './mariadb.ts';

const BIN = fileURLToPath(new URL('../../packages/relay/src/cli/bin.ts', import.meta.url));

/** What one run of `onceflow` did. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * The environment of a run of `onceflow` on `databaseUrl`: DATABASE_URL, and on MySQL and
 * MariaDB ONCEFLOW_SCHEMA naming the URL's database, which the matrix tests use as the
 * Onceflow schema there (see `TestDatabase.schema`), so commands without --schema find it as
 * they find "onceflow" on PostgreSQL.
 */
export function cliEnv(databaseUrl: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: databaseUrl };
  let url: URL | undefined;
  try {
    url = new URL(databaseUrl);
  } catch {
    url = undefined;
  }
  if ((url?.protocol === 'mysql:' || url?.protocol === 'mariadb:') && url.pathname.length > 1) env.ONCEFLOW_SCHEMA = url.pathname.slice(1);
  return env;
}

/**
 * Runs the real `onceflow` bin from its sources in a child process, with DATABASE_URL set to
 * `databaseUrl` (the way the help recommends) and stdin, stdout and stderr not terminals.
 */
export function onceflow(databaseUrl: string, ...args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: cliEnv(databaseUrl), maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr });
    });
  });
}

/** Runs `onceflow ... --json`, and returns its exit code, its parsed stdout and its stderr. */
export async function onceflowJson<T = Record<string, unknown>>(
  databaseUrl: string,
  ...args: string[]
): Promise<{ code: number; json: T; stderr: string }> {
  const result = await onceflow(databaseUrl, ...args, '--json');
  if (result.code !== 0) throw new Error(`onceflow ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
  return { code: result.code, json: JSON.parse(result.stdout) as T, stderr: result.stderr };
}

/**
 * Runs `onceflow` with stdout and stderr on a pseudo-terminal (util-linux `script`), so it
 * sees a TTY as an operator's shell would; returns everything the terminal showed.
 */
export function onTerminal(databaseUrl: string, ...args: string[]): Promise<string> {
  const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
  const command = [process.execPath, BIN, ...args].map(quote).join(' ');
  return new Promise((resolve, reject) => {
    execFile('script', ['-qec', command, '/dev/null'], { env: cliEnv(databaseUrl) }, (error, stdout) => {
      if (error !== null) reject(new Error(`${error.message}\n${stdout}`));
      else resolve(stdout);
    });
  });
}

/**
 * A fresh database with Onceflow's tables in the default schema for the calling test file
 * (`onceflow` on PostgreSQL, the database itself on MariaDB: `db.schema`), dropped after it:
 * the returned function gives it once `beforeAll` has run.
 */
export function migratedDatabase(): () => TestDatabase {
  let db: TestDatabase | undefined;
  beforeAll(async () => {
    db = await createTestDatabase(4);
    await migrate(db.knex, { schema: db.schema });
  });
  afterAll(async () => {
    await db?.drop();
  });
  return () => {
    if (db === undefined) throw new Error('migratedDatabase() is only ready inside tests, after beforeAll');
    return db;
  };
}

/** `schema`.`table` quoted for `db`'s dialect. */
export function tableOf(db: TestDatabase, table: string, schema: string = db.schema): string {
  return db.dialect === 'mysql' ? `\`${schema}\`.\`${table}\`` : `"${schema}"."${table}"`;
}

/** Whether the Onceflow schema `schema` exists (on MySQL: the database). */
export async function schemaExists(db: TestDatabase, schema: string): Promise<boolean> {
  const rows =
    db.dialect === 'mysql'
      ? await db.rows('select count(*) as n from information_schema.schemata where schema_name = ?', [schema])
      : await db.rows('select count(*) as n from pg_namespace where nspname = ?', [schema]);
  return Number(rows[0]?.n) > 0;
}

/** A URL of `db`'s dialect where no server listens. */
export function unreachableUrl(db: TestDatabase): string {
  return db.dialect === 'mysql' ? 'mysql://nobody@127.0.0.1:1/none' : 'postgres://nobody@127.0.0.1:1/none';
}

/**
 * Extra Onceflow schemas of a test file: on PostgreSQL schemas inside the test database (gone
 * with it), on MariaDB databases beside it, dropped after the file.
 */
export function extraSchemas(getDb: () => TestDatabase): (prefix: string) => string {
  const made: string[] = [];
  afterAll(async () => {
    if (getDb().dialect !== 'mysql' || made.length === 0) return;
    // A pool of its own: the test database's may be closed by now.
    const admin = connectMariadb(undefined, 1);
    try {
      for (const name of made) await admin.raw(`drop database if exists \`${name}\``);
    } finally {
      await admin.destroy();
    }
  });
  return (prefix) => {
    const name = uniqueName(prefix);
    made.push(name);
    return name;
  };
}
