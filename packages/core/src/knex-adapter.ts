import type { Knex } from 'knex';
import { ValidationError } from './errors.ts';

/**
 * What Onceflow needs from knex beyond building queries, read in this one file so the rest of
 * the code never touches knex's internals. Pinned against the oldest and newest supported knex
 * (see SUPPORTED_PEERS) by `test/knex-adapter.test.ts`.
 *
 * Public knex API used here:
 * - `trx.executionPromise` (declared on `Knex.Transaction`, documented): settles once the
 *   transaction has ended. It rejects when the COMMIT fails or the transaction is rolled back
 *   with an error, but it *resolves* on a rollback without one (`trx.rollback()`, knex's
 *   default `doNotRejectOnRollback`), so on its own it cannot tell a commit from a rollback.
 * - `trx.parentTransaction` (declared on `Knex.Transaction`, knex 2.5+): the transaction a
 *   savepoint belongs to.
 * - the `'query'` event (documented), which a transaction emits just before each statement it
 *   sends, its own COMMIT included.
 *
 * Not public: knex has no accessor for an instance's configuration or dialect. The least
 * private reading is `knex.client` with its `config`, `dialect`, `driverName` and `pool` (whose
 * `max` is tarn's), all declared on the `Knex.Client` class of knex's typings.
 */

/**
 * The statement knex sends to commit the outermost transaction: 'COMMIT;' in every dialect but
 * MSSQL and Oracle, which commit through their drivers (so afterCommit never fires there).
 */
const COMMIT = /^\s*commit\b/i;

/** Whether each outermost transaction committed; one `'query'` listener per transaction, however many callbacks wait on it. */
const outcomes = new WeakMap<Knex.Transaction, Promise<boolean>>();

/**
 * Runs `callback` once the outermost transaction of `trx` has committed (when `trx` is a
 * savepoint, its outer transaction's commit counts, whatever the savepoint's own fate), and
 * never when that transaction rolls back or its COMMIT fails. Meant for hints that something
 * was committed (waking a relay): a callback must tolerate finding nothing, because PostgreSQL
 * answers the COMMIT of a transaction in which a statement failed by rolling it back, and knex
 * reports that as a commit.
 *
 * Ask while the transaction is open: asked after its COMMIT was sent, the callback never runs.
 * It runs after the commit, outside the transaction; what it throws is not caught here (it
 * surfaces as an unhandled rejection), so it should handle its own errors.
 */
export function afterCommit(trx: Knex.Transaction, callback: () => void): void {
  void outermostOutcome(trx).then((committed) => {
    if (committed) callback();
  });
}

function outermostOutcome(trx: Knex.Transaction): Promise<boolean> {
  if (typeof trx !== 'function' || (trx as { isTransaction?: unknown }).isTransaction !== true) {
    throw new ValidationError('trx', trx, 'a knex transaction (knex.transaction(async (trx) => ...))');
  }
  let outer = trx;
  while (outer.parentTransaction !== undefined) outer = outer.parentTransaction;
  let outcome = outcomes.get(outer);
  if (outcome === undefined) {
    outcome = watch(outer);
    outcomes.set(outer, outcome);
  }
  return outcome;
}

function watch(outer: Knex.Transaction): Promise<boolean> {
  // Once the COMMIT is sent nothing else can be (knex refuses statements on an ended
  // transaction), so "COMMIT sent and executionPromise resolved" means it committed; a
  // rollback sends no COMMIT, and a failed COMMIT rejects executionPromise.
  let commitSent = false;
  const onQuery = (query: { sql?: unknown }) => {
    if (typeof query?.sql === 'string' && COMMIT.test(query.sql)) commitSent = true;
  };
  outer.on('query', onQuery);
  return outer.executionPromise
    .then(
      () => commitSent,
      () => false,
    )
    .finally(() => outer.off('query', onQuery));
}

/**
 * Connection settings of a knex instance, for a client of one's own (the relay's LISTEN
 * connection): a fresh object, taken from `connection` as given to knex (knex has already
 * parsed a connection string into an object), or from what a connection function returns.
 * Undefined when knex has none (a `connectionPool` of its own).
 *
 * The copy holds the password as an ordinary property: knex hides it from enumeration, and a
 * hidden property would vanish when the settings are spread into another object. Never log it.
 */
export async function knexConnectionSettings(knex: Knex): Promise<Record<string, unknown> | undefined> {
  let connection: unknown = clientOf(knex).config?.connection;
  if (typeof connection === 'function') connection = await (connection as () => unknown)();
  if (typeof connection === 'string') return { connectionString: connection };
  if (connection === null || typeof connection !== 'object') return undefined;
  const settings: Record<string, unknown> = { ...connection };
  const password = (connection as { password?: unknown }).password;
  if (password !== undefined) settings.password = password;
  // Part of knex's connection-function protocol, not a setting of the database driver.
  delete settings.expirationChecker;
  return settings;
}

/** The SQL dialect and driver of a knex instance or transaction. */
export interface KnexDialect {
  /** The SQL family: `'postgresql'`, `'mysql'` (also for mysql2 and MariaDB), `'sqlite3'`, `'mssql'`, ... */
  readonly dialect: string;
  /** The driver package: `'pg'`, `'mysql2'`, `'mysql'`, `'better-sqlite3'`, ... */
  readonly driver: string;
}

/** The SQL dialect and driver of `knex` (a knex instance or a transaction of one). */
export function knexDialect(knex: Knex): KnexDialect {
  const client = clientOf(knex);
  const driver = typeof client.driverName === 'string' ? client.driverName : String(client.config?.client ?? 'unknown');
  return { dialect: typeof client.dialect === 'string' ? client.dialect : driver, driver };
}

/**
 * The most connections the pool of `knex` opens, or undefined when knex has no pool of its own
 * (a transaction, a `connectionPool` given to knex, or none made yet).
 */
export function knexPoolMax(knex: Knex): number | undefined {
  const max = clientOf(knex).pool?.max;
  return typeof max === 'number' ? max : undefined;
}

/** The parts of `Knex.Client` (declared in knex's typings) read here. */
/**
 * The client name a knex client was made with: its `client` option when that is a string, else
 * the driver of the client class given in its place (knex's own classes name theirs).
 */
export function knexClientName(client: object): string | undefined {
  const { config, driverName } = client as ClientView;
  if (typeof config?.client === 'string') return config.client;
  return typeof driverName === 'string' ? driverName : undefined;
}

interface ClientView {
  readonly config?: { readonly connection?: unknown; readonly client?: unknown };
  readonly dialect?: unknown;
  readonly driverName?: unknown;
  readonly pool?: { readonly max?: unknown } | null;
}

function clientOf(knex: Knex): ClientView {
  const client = (knex as { client?: unknown }).client;
  if (typeof knex !== 'function' || client === null || typeof client !== 'object') {
    throw new ValidationError('knex', knex, 'a knex instance (knex({ client: "pg", connection }))');
  }
  return client as ClientView;
}
