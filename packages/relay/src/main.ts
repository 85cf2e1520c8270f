import type { Logger, Publisher } from '@onceflow/core';
import { assertPeerVersion, createJsonLogger, defaultSchema, OptionError } from '@onceflow/core';
import type { Knex } from 'knex';
import knexFactory from 'knex';
import type { MetricsSource, RelayHttpServer } from './http-server.ts';
import { startRelayHttpServer } from './http-server.ts';
import type { RelayOptions } from './options.ts';
import { Relay } from './relay.ts';

/** Options of {@link runRelayProcess}. */
export interface RelayProcessOptions {
  /**
   * The publisher (e.g. a ThreadedKafkaPublisher, as `onceflow relay` uses, or a
   * KafkaPublisher, both reaching KAFKA_BROKERS by default); the relay connects and
   * disconnects it.
   */
  publisher: Publisher;
  /**
   * Connection string of the outbox's database: `postgres://...` (PostgreSQL) or
   * `mysql://...` / `mariadb://...` (MySQL 8, MariaDB 10.6+, through knex's mysql2 client; the
   * path names the database, and `schema` defaults to ONCEFLOW_SCHEMA, else "onceflow").
   * @defaultValue DATABASE_URL
   */
  databaseUrl?: string;
  /** Schema of Onceflow's tables. @defaultValue ONCEFLOW_SCHEMA, else "onceflow" */
  schema?: string;
  /** Pool size of the relay's database connections (at least twice `concurrency`). @defaultValue 2 * concurrency + 2 */
  poolSize?: number;
  /** Further relay options (timings, batch size, onDead...). */
  relay?: Omit<RelayOptions, 'knex' | 'publisher' | 'schema' | 'logger'>;
  /** @defaultValue JSON lines on stderr at level info */
  logger?: Logger;
  /** How the process ends; tests replace it. @defaultValue process.exit */
  exit?: (code: number) => void;
  /**
   * Serve `/healthz`, `/readyz` and `/metrics` on this port (0: any free port) and host
   * (default 0.0.0.0). `/metrics` needs @onceflow/metrics installed. @defaultValue no server
   */
  http?: { port: number; host?: string };
}

/** A running relay process: the relay, and a promise that settles when it has stopped. */
export interface RelayProcess {
  readonly relay: Relay;
  /** The health and metrics endpoint, when `http` was given. */
  readonly http: RelayHttpServer | undefined;
  /** Resolves after a graceful stop (first SIGTERM/SIGINT, or `shutdown()`). */
  readonly stopped: Promise<void>;
  /** Stops gracefully, as the first signal does. */
  shutdown(): Promise<void>;
}

/**
 * Runs a relay as a process: connects to DATABASE_URL, starts the relay, and on the first
 * SIGTERM or SIGINT stops it gracefully (in-flight batch finished or released, leases
 * released, connections closed) and exits 0; a second signal exits at once with 130 (the
 * leases then expire and other relays take over; nothing is lost).
 */
export async function runRelayProcess(options: RelayProcessOptions): Promise<RelayProcess> {
  const logger = options.logger ?? createJsonLogger('info', { component: 'onceflow-relay' });
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const databaseUrl = options.databaseUrl ?? process.env.DATABASE_URL;
  if (databaseUrl === undefined || databaseUrl === '') {
    throw new OptionError('databaseUrl', databaseUrl, 'a PostgreSQL or MySQL connection string (set DATABASE_URL)');
  }
  const database = knexConnection(databaseUrl);
  assertPeerVersion(database.client);
  const schema = options.schema ?? defaultSchema();
  const concurrency = options.relay?.concurrency ?? 4;
  const knex: Knex = knexFactory({
    client: database.client,
    connection: database.connection,
    pool: { min: 0, max: options.poolSize ?? 2 * concurrency + 2 },
    // Knex prints pool and connection errors to the console with their stack; they go to the
    // relay's logger instead, as one line each.
    log: {
      warn: (message: unknown) => logger.warn({ detail: String(message) }, 'knex'),
      error: (message: unknown) => logger.warn({ detail: String(message) }, 'knex'),
      deprecate: (method: unknown, alternative: unknown) => logger.debug({ method, alternative }, 'knex deprecation'),
      debug: (message: unknown) => logger.debug({ detail: String(message) }, 'knex'),
    },
  });
  const relay = new Relay({ ...options.relay, knex, publisher: options.publisher, schema, logger });
  try {
    await relay.start();
  } catch (error) {
    await relay.stop().catch(() => undefined);
    await knex.destroy();
    throw error;
  }

  let http: RelayHttpServer | undefined;
  if (options.http !== undefined) {
    try {
      const metrics = await loadMetricsSource(relay, knex, schema, logger);
      http = await startRelayHttpServer({ ...options.http, relay, logger, ...(metrics === undefined ? {} : { metrics }) });
    } catch (error) {
      await relay.stop().catch(() => undefined);
      await knex.destroy();
      throw error;
    }
  }

  let signals = 0;
  let stopping: Promise<void> | undefined;
  const shutdown = (): Promise<void> => {
    stopping ??= (http?.close() ?? Promise.resolve())
      .then(() => relay.stop())
      .finally(() => knex.destroy())
      .finally(() => {
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
      });
    return stopping;
  };
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      logger.warn({ signal }, 'Second signal: exiting now; leases expire and other relays take over');
      exit(130);
      return;
    }
    logger.info({ signal }, 'Stopping relay gracefully (send the signal again to exit at once)');
    shutdown().then(
      () => exit(0),
      (error: unknown) => {
        logger.error({ error }, 'Relay stop failed');
        exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  relay.events.on('relay:error', ({ error, during }) => logger.debug({ error, during }, 'relay:error'));
  const stopped = new Promise<void>((resolve) => {
    const check = () => (stopping === undefined ? setTimeout(check, 100).unref() : stopping.then(resolve, resolve));
    check();
  });
  return { relay, http, stopped, shutdown };
}

/**
 * The `/metrics` source of @onceflow/metrics when it is installed. It is looked up at run time,
 * not imported: it depends on this package, and a relay that serves no metrics does not need it.
 */
async function loadMetricsSource(relay: Relay, knex: Knex, schema: string, logger: Logger): Promise<MetricsSource | undefined> {
  const name = '@onceflow/metrics';
  let found: { relayMetricsSource(options: { relay: Relay; knex: Knex; schema: string }): MetricsSource };
  try {
    found = await import(name);
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'ERR_MODULE_NOT_FOUND') throw error;
    logger.warn({}, '/metrics is off: install @onceflow/metrics (and prom-client) beside @onceflow/relay to serve it');
    return undefined;
  }
  return found.relayMetricsSource({ relay, knex, schema });
}

/**
 * The knex client and connection of a connection string: `mysql:` and `mariadb:` go to knex's
 * mysql2 client (as host, port, user, password and database, which mysql2 takes without a URL
 * parser of its own), anything else to pg, which reads the string itself.
 */
function knexConnection(url: string): { client: 'pg' | 'mysql2'; connection: string | Record<string, string | number> } {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || (parsed.protocol !== 'mysql:' && parsed.protocol !== 'mariadb:')) return { client: 'pg', connection: url };
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  return {
    client: 'mysql2',
    connection: {
      host: parsed.hostname,
      port: Number(parsed.port || 3306),
      user: decodeURIComponent(parsed.username),
      password: decodeURIComponent(parsed.password),
      ...(database === '' ? {} : { database }),
    },
  };
}
