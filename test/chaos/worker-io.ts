import type { Knex } from 'knex';
import knexFactory from 'knex';
import { mysqlRoleUser } from './chaos-sql-mysql.ts';

/**
 * Plumbing shared by the chaos worker processes: configuration in, JSON lines out, and an exit
 * when the harness goes away, so no worker outlives a run.
 */

/** The worker's configuration: one JSON argument, written by the harness. */
export function readWorkerConfig<T>(): T {
  const text = process.argv[2];
  if (text === undefined) {
    process.stderr.write(`usage: node ${process.argv[1]} '<json config>' (started by test/chaos/harness.ts)\n`);
    process.exit(2);
  }
  return JSON.parse(text) as T;
}

/** One JSON line on stdout for the harness (`event` plus fields). */
export function report(event: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ event, ...fields })}\n`);
}

/** A log line on stderr (the harness keeps it in the process's log file). */
export function log(message: string, fields: Record<string, unknown> = {}): void {
  const error = fields.error;
  const shown = error instanceof Error ? { ...fields, error: `${error.name}: ${error.message}` } : fields;
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), msg: message, ...shown })}\n`);
}

/**
 * Exits when the harness's IPC channel closes (the harness died, even by SIGKILL), and runs
 * `stop` on SIGTERM or SIGINT; a second signal exits at once.
 */
export function superviseWorker(stop: () => Promise<void>): void {
  if (process.channel !== undefined) {
    process.channel.unref();
    process.on('disconnect', () => process.exit(3));
  }
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(1);
    stopping = true;
    log('stopping', { signal });
    stop().then(
      () => process.exit(0),
      (error: unknown) => {
        log('stop failed', { error });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

/**
 * A knex pool on `url` whose sessions the harness can end by role: on PostgreSQL they carry
 * `applicationName`; on MySQL or MariaDB (a `mysql:` URL) a producer, relay or consumer connects
 * as its role's user (chaos-sql-mysql.ts), the harness as the URL's own user.
 */
export function connectAs(url: string, applicationName: string, pool: number, minPool = 0): Knex {
  return knexFactory({
    ...connectionFor(url, applicationName),
    pool: { min: minPool, max: pool },
    // knex prints a dropped connection ("Connection Error: ...", e.g. while PostgreSQL restarts)
    // on stdout, where the harness expects JSON lines and the run its one summary line.
    log: {
      warn: (message: string) => log('knex', { message }),
      error: (message: string) => log('knex', { message }),
      deprecate: (message: string) => log('knex', { message }),
      debug: () => undefined,
    },
  });
}

function connectionFor(url: string, applicationName: string): Pick<Knex.Config, 'client' | 'connection'> {
  const u = new URL(url);
  if (u.protocol !== 'mysql:' && u.protocol !== 'mariadb:') {
    return { client: 'pg', connection: { connectionString: url, application_name: applicationName } };
  }
  const roleUser = mysqlRoleUser(applicationName);
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
  return {
    client: 'mysql2',
    connection: {
      host: u.hostname,
      port: Number(u.port || 3306),
      user: roleUser ?? decodeURIComponent(u.username || 'root'),
      password: roleUser === undefined ? decodeURIComponent(u.password) : '',
      ...(database === '' ? {} : { database }),
    },
  };
}

/**
 * Runs `work` again on failure, for up to `timeoutMs`: the harness's own statements must outlast
 * what the run does to the server (a full connection table, a restarting session).
 */
export async function persistently<T>(what: string, work: () => Promise<T>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`${what} kept failing for ${timeoutMs} ms`, { cause: error });
      await sleep(Math.min(2_000, 100 * attempt));
    }
  }
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
