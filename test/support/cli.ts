import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { migrate } from '@onceflow/core';
import { afterAll, beforeAll } from 'vitest';
import type { TestDatabase } from './database.ts';
import { createTestDatabase } from './database.ts';

const BIN = fileURLToPath(new URL('../../packages/relay/src/cli/bin.ts', import.meta.url));

/** What one run of `onceflow` did. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the real `onceflow` bin from its sources in a child process, with DATABASE_URL set to
 * `databaseUrl` (the way the help recommends) and stdin, stdout and stderr not terminals.
 */
export function onceflow(databaseUrl: string, ...args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: { ...process.env, DATABASE_URL: databaseUrl }, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr });
      },
    );
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
    execFile('script', ['-qec', command, '/dev/null'], { env: { ...process.env, DATABASE_URL: databaseUrl } }, (error, stdout) => {
      if (error !== null) reject(new Error(`${error.message}\n${stdout}`));
      else resolve(stdout);
    });
  });
}

/**
 * A fresh database with Onceflow's tables in the default schema for the calling test file,
 * dropped after it: the returned function gives it once `beforeAll` has run.
 */
export function migratedDatabase(): () => TestDatabase {
  let db: TestDatabase | undefined;
  beforeAll(async () => {
    db = await createTestDatabase(4);
    await migrate(db.knex);
  });
  afterAll(async () => {
    await db?.drop();
  });
  return () => {
    if (db === undefined) throw new Error('migratedDatabase() is only ready inside tests, after beforeAll');
    return db;
  };
}
