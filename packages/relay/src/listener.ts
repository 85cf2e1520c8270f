import type { Logger } from '@onceflow/core';
import { RetryPolicy } from '@onceflow/core';
import type { ClientConfig, Notification } from 'pg';
import pg from 'pg';

/** Options of {@link NotificationListener}. */
export interface NotificationListenerOptions {
  connection: string | ClientConfig;
  channel: string;
  logger: Logger;
  /** Shards named by a notification, or null for "anything may have changed". */
  onNotify(shards: number[] | null): void;
  onError(error: unknown): void;
}

/** Reconnects of the LISTEN connection: without limit, from half a second up to 30 s. */
const reconnects = new RetryPolicy({ maxAttempts: Number.POSITIVE_INFINITY, minDelayMs: 500, maxDelayMs: 30_000 });

/**
 * A dedicated PostgreSQL connection LISTENing on the outbox channel. Producers' inserts
 * notify at commit with the shards they wrote to. When the connection drops it reconnects
 * with backoff and then reports "anything may have changed", since notifications sent
 * meanwhile are gone; polling covers the gap.
 */
export class NotificationListener {
  readonly #options: NotificationListenerOptions;
  #client: pg.Client | undefined;
  #stopped = false;
  #failures = 0;
  #retryTimer: NodeJS.Timeout | undefined;

  constructor(options: NotificationListenerOptions) {
    this.#options = options;
  }

  /** Connects; a failure is reported and retried in the background, never thrown. */
  async start(): Promise<void> {
    await this.#connect();
  }

  async #connect(): Promise<void> {
    if (this.#stopped) return;
    const config: ClientConfig =
      typeof this.#options.connection === 'string' ? { connectionString: this.#options.connection } : { ...this.#options.connection };
    const client = new pg.Client(config);
    this.#client = client;
    client.on('notification', (message: Notification) => this.#options.onNotify(parseShards(message.payload)));
    client.on('error', (error) => this.#lost(client, error));
    client.on('end', () => this.#lost(client, new Error('LISTEN connection ended')));
    try {
      await client.connect();
      // The channel name is derived from a validated schema identifier.
      await client.query(`listen "${this.#options.channel}"`);
      if (this.#failures > 0) this.#options.logger.info({ channel: this.#options.channel }, 'LISTEN connection restored');
      this.#failures = 0;
      this.#options.onNotify(null);
    } catch (error) {
      this.#lost(client, error);
    }
  }

  #lost(client: pg.Client, error: unknown): void {
    if (this.#client !== client || this.#stopped) return;
    this.#client = undefined;
    client.removeAllListeners('end');
    client.on('error', () => undefined);
    void client.end().catch(() => undefined);
    this.#failures++;
    this.#options.onError(error);
    const delay = reconnects.delayMs(this.#failures);
    this.#options.logger.warn({ error, retryInMs: delay }, 'LISTEN connection failed; polling meanwhile');
    this.#retryTimer = setTimeout(() => void this.#connect(), delay);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#retryTimer !== undefined) clearTimeout(this.#retryTimer);
    const client = this.#client;
    this.#client = undefined;
    if (client === undefined) return;
    client.removeAllListeners('end');
    client.on('error', () => undefined);
    await client.end().catch(() => undefined);
  }
}

/** `"3,17"` → [3, 17]; anything else → null (wake every shard). */
export function parseShards(payload: string | undefined): number[] | null {
  if (payload === undefined || payload === '') return null;
  const shards = payload.split(',').map(Number);
  return shards.every((s) => Number.isInteger(s) && s >= 0) ? shards : null;
}
