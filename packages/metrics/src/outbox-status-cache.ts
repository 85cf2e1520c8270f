import type { TopicStatus } from '@onceflow/relay';
import { outboxStatus } from '@onceflow/relay';
import type { Knex } from 'knex';
import { limitStatementTime } from './statement-timeout.ts';

/**
 * The outbox status query behind the SQL gauges, run at most once per `cacheMs` however many
 * gauges and scrapers ask: concurrent callers share the query in flight, and later ones get
 * the cached result until it expires. The query runs with a statement timeout, so a slow
 * database makes a scrape report stale values instead of piling up queries. The query is the
 * relay's `outboxStatus`, which picks its SQL for the database's dialect; the metrics have no
 * SQL of their own beyond the timeout.
 */
export class OutboxStatusCache {
  readonly #knex: Knex;
  readonly #schema: string;
  readonly #cacheMs: number;
  readonly #timeoutMs: number;
  #last: { at: number; topics: readonly TopicStatus[] } | null = null;
  #inFlight: Promise<readonly TopicStatus[]> | null = null;
  /** Queries run (for tests and the failure counter's context). */
  queries = 0;

  constructor(knex: Knex, schema: string, cacheMs: number, timeoutMs: number) {
    this.#knex = knex;
    this.#schema = schema;
    this.#cacheMs = cacheMs;
    this.#timeoutMs = timeoutMs;
  }

  /** The per-topic status, from the cache when fresh; the last known one when the query fails. */
  async topics(onFailure: (error: unknown) => void): Promise<readonly TopicStatus[]> {
    if (this.#last !== null && Date.now() - this.#last.at < this.#cacheMs) return this.#last.topics;
    this.#inFlight ??= this.#query().finally(() => {
      this.#inFlight = null;
    });
    try {
      return await this.#inFlight;
    } catch (error) {
      onFailure(error);
      return this.#last?.topics ?? [];
    }
  }

  async #query(): Promise<readonly TopicStatus[]> {
    this.queries++;
    const topics = await this.#knex.transaction(async (trx) => {
      const undo = await limitStatementTime(trx, this.#timeoutMs);
      try {
        return await outboxStatus(trx, { schema: this.#schema });
      } finally {
        await undo();
      }
    });
    this.#last = { at: Date.now(), topics };
    return topics;
  }
}
