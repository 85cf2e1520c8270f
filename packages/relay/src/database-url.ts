import type { Dialect } from '@onceflow/core';
import { ErrorCodes, OnceflowError, OptionError } from '@onceflow/core';
import type { Knex } from 'knex';

/** How to reach the database of a connection string: knex's client and connection settings. */
export interface DatabaseConnection {
  readonly dialect: Dialect;
  /** Knex's `client` option. */
  readonly client: 'pg' | 'mysql2';
  /** Knex's `connection` option. */
  readonly connection: Knex.PgConnectionConfig | Knex.MySql2ConnectionConfig;
  /** `host:port`, for messages (never the password). */
  readonly server: string;
}

/** URL schemes per dialect. mariadb:// is the same client and SQL as mysql://. */
const SCHEMES: Readonly<Record<string, Dialect>> = {
  'postgres:': 'postgres',
  'postgresql:': 'postgres',
  'mysql:': 'mysql',
  'mariadb:': 'mysql',
};

const EXAMPLES = 'postgres://user@host:5432/database, mysql://user:password@host:3306/database or mariadb://...';

/**
 * The knex settings for a PostgreSQL (`postgres://`, `postgresql://`) or MySQL/MariaDB
 * (`mysql://`, `mariadb://`) connection string. On MySQL the URL's database is only the
 * connection's default database; Onceflow's tables live in the database named by the
 * Onceflow schema. Throws {@link OptionError} naming `option` for anything else; the URL
 * itself is never quoted, as it may hold a password.
 */
export function databaseConnection(url: string, option = 'databaseUrl'): DatabaseConnection {
  if (url.trim() === '') throw new OptionError(option, '(empty)', `a connection string such as ${EXAMPLES}`);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new OptionError(option, '(not a URL; value not shown)', `a connection string such as ${EXAMPLES}`);
  }
  const dialect = SCHEMES[parsed.protocol];
  if (dialect === undefined) {
    throw new OptionError(option, `a URL starting with "${parsed.protocol}//"`, `a connection string such as ${EXAMPLES}`);
  }
  const port = parsed.port === '' ? (dialect === 'mysql' ? 3306 : 5432) : Number(parsed.port);
  const server = `${parsed.hostname || 'localhost'}:${port}`;
  if (dialect === 'postgres') {
    // connectionTimeoutMillis: a server that never answers pg's startup message (a Kafka
    // broker, a web server) is reported after this long instead of knex's one-minute pool wait.
    return { dialect, client: 'pg', connection: { connectionString: url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS }, server };
  }
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  if (database.includes('/')) {
    throw new OptionError(option, `a mysql:// URL with the path "${parsed.pathname}"`, 'at most one database name after the host');
  }
  return {
    dialect,
    client: 'mysql2',
    connection: {
      host: parsed.hostname || 'localhost',
      port,
      user: decodeURIComponent(parsed.username || 'root'),
      password: decodeURIComponent(parsed.password),
      ...(database === '' ? {} : { database }),
      // Onceflow's DATETIME columns hold UTC (utc_timestamp()); read and write them as UTC
      // whatever the machine's time zone.
      timezone: 'Z',
      // A server that never sends a MySQL greeting (PostgreSQL waits for the client to speak
      // first) is reported after this long instead of knex's one-minute pool wait.
      connectTimeout: CONNECT_TIMEOUT_MS,
    },
    server,
  };
}

/** How long a connection attempt may take before the server counts as not answering. */
export const CONNECT_TIMEOUT_MS = 10_000;

/**
 * `error` of a first statement on `db` explained when it says the server cannot be reached, or
 * does not speak the URL's protocol (a mysql:// URL pointing at PostgreSQL or at a web server,
 * a postgres:// URL pointing at MySQL); the error itself when the server answered as the
 * dialect's server (a wrong password, an unknown database), whose own message is clearer.
 */
export function connectionError(error: unknown, db: DatabaseConnection): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  const errno = (error as { errno?: unknown } | null)?.errno;
  const message = error instanceof Error ? error.message : String(error);
  // The server answered in its own protocol: MySQL error numbers are positive, PostgreSQL's
  // SQLSTATE codes have five characters.
  if (db.dialect === 'mysql' && typeof errno === 'number' && errno > 0 && typeof code === 'string' && code.startsWith('ER_')) return error;
  if (db.dialect === 'postgres' && typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return error;
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH' || code === 'EAI_AGAIN') {
    return new OnceflowError(
      ErrorCodes.store,
      `cannot reach the database server at ${db.server} (${code}): is it running, and is the URL's host and port right?`,
      {
        cause: error,
        retriable: true,
      },
    );
  }
  const expected = db.dialect === 'mysql' ? 'MySQL or MariaDB' : 'PostgreSQL';
  const hint =
    db.dialect === 'mysql'
      ? 'a mysql:// or mariadb:// URL needs a MySQL 8 or MariaDB 10.6+ server (use postgres:// for PostgreSQL)'
      : 'a postgres:// URL needs a PostgreSQL server (use mysql:// or mariadb:// for MySQL and MariaDB)';
  return new OnceflowError(ErrorCodes.store, `the server at ${db.server} did not answer as ${expected} (${message}): ${hint}`, {
    cause: error,
  });
}

/** MySQL's "You have an error in your SQL syntax", and "FUNCTION ... does not exist". */
const ER_PARSE_ERROR = 1064;
const ER_SP_DOES_NOT_EXIST = 1305;

/**
 * `error` explained when a MySQL or MariaDB server refused a statement's syntax or a function it
 * names: Onceflow sent
 * SQL written for another dialect, which no input of the operator's can fix (a part of this
 * release without MySQL SQL yet), so the message says that instead of quoting the parser; the
 * error itself otherwise.
 */
export function unsupportedSqlError(error: unknown, db: DatabaseConnection): unknown {
  const errno = (error as { errno?: unknown } | null)?.errno;
  if (db.dialect !== 'mysql' || (errno !== ER_PARSE_ERROR && errno !== ER_SP_DOES_NOT_EXIST)) return error;
  return new OnceflowError(
    ErrorCodes.runtime,
    `the MySQL/MariaDB server at ${db.server} refused this command's SQL as PostgreSQL-only (errno ${errno}): this part of Onceflow has no MySQL version in this release`,
    { cause: error },
  );
}
