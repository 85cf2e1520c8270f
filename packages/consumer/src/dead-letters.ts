import type { AttemptError, OutgoingRecord, Publisher, RawHeader, Tables } from '@onceflow/core';
import { decodeRawHeaders, defaultSchema, describeValue, intOption, OptionError, requiredOption } from '@onceflow/core';
import type { Knex } from 'knex';
import { DeadLetterError } from './errors.ts';
import type { InboxSql } from './inbox-sql.ts';
import { inboxSqlAndTables } from './inbox-sql.ts';
import { truncateText } from './pg-text.ts';
import type { DeadLetterPurgeFilter } from './sql/delete-dead-letters.ts';
import type { StoredDeadLetter } from './sql/select-dead-letters.ts';

/** A dead-lettered message. */
export interface DeadLetter {
  readonly id: string;
  readonly consumerName: string;
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: string | null;
  readonly dedupKey: string | null;
  readonly headers: Readonly<Record<string, string>>;
  /** The key's bytes as consumed (`key` is their text, made storable); null when the record had no key. */
  readonly rawKey: Buffer | null;
  /** Every header as consumed, in order, repeats and null values included (what replay sends). */
  readonly rawHeaders: readonly RawHeader[];
  /** The value; null for a tombstone. */
  readonly value: Buffer | null;
  /** Every failed attempt, oldest first. */
  readonly errors: readonly AttemptError[];
  readonly attempts: number;
  readonly createdAt: Date;
  readonly replayedAt: Date | null;
}

/** Options of {@link DeadLetters}. */
export interface DeadLettersOptions {
  /** The knex instance holding Onceflow's tables (client pg, or mysql2 for MySQL 8 and MariaDB 10.6+). */
  knex?: Knex;
  /** Schema holding Onceflow's tables (on MySQL and MariaDB, the database). @defaultValue ONCEFLOW_SCHEMA, else "onceflow" */
  schema?: string;
}

/** Filter of {@link DeadLetters.list}. */
export interface ListDeadLettersOptions {
  /** Only this consumer's dead letters. @defaultValue every consumer */
  consumerName?: string;
  /** Only ids greater than this (keyset pagination). @defaultValue "0" */
  afterId?: string;
  /** Most rows returned. @defaultValue 100 */
  limit?: number;
  /** Include dead letters already replayed. @defaultValue false */
  includeReplayed?: boolean;
}

/**
 * Which dead letters {@link DeadLetters.replayAll} and {@link DeadLetters.purge} act on: ids,
 * or one consumer's; an empty filter selects nothing unless `all: true`.
 */
export type DeadLetterSelection = readonly string[] | { consumerName?: string; all?: boolean };

/** Options of {@link DeadLetters.replayAll} and {@link DeadLetters.purge}. */
export interface DeadLetterBatchOptions {
  /** Dead letters per statement (and per publish). @defaultValue 100 */
  batchSize?: number;
  /** Called after each batch with the number done so far (progress of long runs). */
  onProgress?: (done: number) => void;
}

/**
 * Lists and replays the consumer's dead letters. Replaying republishes the original record
 * (topic, key, value, headers, byte for byte: a binary key lands on the same partition, a
 * tombstone stays null, repeated headers keep every value) through a {@link Publisher} and then marks it replayed; the
 * message was never recorded in the inbox, so the consumer handles it again. A crash between
 * the two steps republishes twice, which the inbox turns into one effect.
 */
export class DeadLetters {
  readonly #knex: Knex;
  readonly #tables: Tables;
  readonly #sql: InboxSql;

  constructor(options: DeadLettersOptions) {
    this.#knex = requiredOption('knex', options.knex, 'a knex instance');
    const { sql, tables } = inboxSqlAndTables(this.#knex, options.schema ?? defaultSchema());
    this.#sql = sql;
    this.#tables = tables;
  }

  /** Dead letters oldest first. */
  async list(options: ListDeadLettersOptions = {}): Promise<DeadLetter[]> {
    const afterId = options.afterId ?? '0';
    if (idProblem(afterId) !== undefined) throw new OptionError('afterId', afterId, `a dead letter id (${ID_RULE})`);
    const rows = await this.#sql.selectDeadLetters(this.#knex, this.#tables, {
      consumer: options.consumerName ?? null,
      ids: null,
      afterId,
      limit: intOption('limit', options.limit, 100, 1, 10_000),
      includeReplayed: options.includeReplayed ?? false,
    });
    return rows.map(toDeadLetter);
  }

  /** One dead letter by id; throws DeadLetterError when there is none. */
  async get(id: string): Promise<DeadLetter> {
    const [row] = await this.#select([id], true);
    if (row === undefined) throw new DeadLetterError(id, 'no such dead letter');
    return toDeadLetter(row);
  }

  /**
   * Republishes the given dead letters (not yet replayed) to their original topics through
   * `publisher` (connected by the caller) and marks them replayed. Returns how many were replayed.
   */
  async replay(ids: readonly string[], publisher: Publisher): Promise<number> {
    const rows = await this.#select(ids, false);
    const found = new Set(rows.map((r) => r.id));
    const missing = ids.find((id) => !found.has(id));
    if (missing !== undefined) throw new DeadLetterError(missing, 'no such dead letter, or it was replayed already');
    const keyless = rows.find((r) => r.key === null && r.raw_key === null);
    if (keyless !== undefined)
      throw new DeadLetterError(keyless.id, 'the record had no key, and the publisher needs one to keep per-key order');
    if (rows.length === 0) return 0;
    await publisher.publish(rows.map(toReplayRecord));
    return this.#sql.markReplayed(this.#knex, this.#tables, [...found]);
  }

  /**
   * Replays every dead letter not replayed yet of one consumer (`{ consumerName }`), or of all
   * (`{ all: true }`), oldest first, one batch per publish; returns how many were replayed.
   * Stops at the first batch that cannot be replayed (a record without a key), leaving it and
   * those after it waiting.
   */
  async replayAll(
    selection: { consumerName?: string; all?: boolean },
    publisher: Publisher,
    options: DeadLetterBatchOptions = {},
  ): Promise<number> {
    const consumerName = selection.consumerName;
    if (consumerName === undefined && selection.all !== true) {
      throw new OptionError('selection', selection, '{ consumerName } or { all: true }');
    }
    const limit = intOption('batchSize', options.batchSize, 100, 1, 10_000);
    let afterId = '0';
    let total = 0;
    for (;;) {
      const page = await this.list({ ...(consumerName === undefined ? {} : { consumerName }), afterId, limit });
      if (page.length === 0) return total;
      total += await this.replay(
        page.map((l) => l.id),
        publisher,
      );
      options.onProgress?.(total);
      afterId = (page.at(-1) as DeadLetter).id;
    }
  }

  /**
   * Deletes dead letters for good (replayed or not), in bounded batches, oldest first; returns
   * how many. Their messages are not replayed and their effects never run.
   */
  async purge(selection: DeadLetterSelection, options: DeadLetterBatchOptions = {}): Promise<number> {
    const limit = intOption('batchSize', options.batchSize, 1_000, 1, 100_000);
    let filter: DeadLetterPurgeFilter;
    if (Array.isArray(selection)) {
      for (const id of selection) if (!/^\d+$/.test(id)) throw new OptionError('ids', id, 'dead letter ids (decimal digits)');
      if (selection.length === 0) return 0;
      filter = { consumer: null, ids: [...selection] };
    } else {
      const s = selection as { consumerName?: string; all?: boolean };
      if (s.consumerName === undefined && s.all !== true)
        throw new OptionError('selection', selection, 'ids, { consumerName } or { all: true }');
      filter = { consumer: s.consumerName ?? null, ids: null };
    }
    let total = 0;
    for (;;) {
      const deleted = await this.#sql.deleteDeadLetters(this.#knex, this.#tables, filter, limit);
      total += deleted;
      options.onProgress?.(total);
      if (deleted < limit) return total;
    }
  }

  async #select(ids: readonly string[], includeReplayed: boolean): Promise<StoredDeadLetter[]> {
    for (const id of ids) {
      const problem = idProblem(id);
      if (problem !== undefined) throw new DeadLetterError(describeValue(id), `not a dead letter id: ${problem}`);
    }
    return this.#sql.selectDeadLetters(this.#knex, this.#tables, {
      consumer: null,
      ids: [...ids],
      afterId: '0',
      limit: ids.length || 1,
      includeReplayed,
    });
  }
}

function toDeadLetter(r: StoredDeadLetter): DeadLetter {
  return {
    id: r.id,
    consumerName: r.consumer,
    topic: r.topic,
    partition: r.partition,
    offset: r.offset,
    key: r.key,
    dedupKey: r.dedup_key,
    headers: r.headers,
    rawKey: rawKeyOf(r),
    rawHeaders: rawHeadersOf(r),
    value: r.value,
    errors: r.errors as AttemptError[],
    attempts: r.attempts,
    createdAt: r.created_at,
    replayedAt: r.replayed_at,
  };
}

/** Largest dead letter id: ids are PostgreSQL bigints. */
const MAX_ID = 9_223_372_036_854_775_807n;
const ID_RULE = `decimal digits, at most ${MAX_ID}`;

/** Why `id` cannot name a dead letter, or undefined; checked before any SQL, so PostgreSQL never sees it. */
function idProblem(id: unknown): string | undefined {
  if (typeof id !== 'string' || !/^\d+$/.test(id)) return `expected ${ID_RULE}`;
  if (BigInt(id) > MAX_ID) return `beyond the range of ids (${ID_RULE})`;
  return undefined;
}

/** The key's bytes; rows stored before schema version 6 have only the text. */
function rawKeyOf(r: StoredDeadLetter): Buffer | null {
  return r.raw_key ?? (r.key === null ? null : Buffer.from(r.key, 'utf8'));
}

/** Every header as bytes; rows stored before schema version 6 have only the first value of each, as text. */
function rawHeadersOf(r: StoredDeadLetter): RawHeader[] {
  if (r.raw_headers !== null) return decodeRawHeaders(r.raw_headers);
  return Object.entries(r.headers).map(([name, value]) => [name, Buffer.from(value, 'utf8')]);
}

/** The record a replay publishes: the stored bytes as `raw`, the text fields for logs. */
function toReplayRecord(r: StoredDeadLetter): OutgoingRecord {
  const key = rawKeyOf(r) as Buffer;
  return {
    topic: r.topic,
    key: r.key ?? key.toString('utf8'),
    value: r.value ?? Buffer.alloc(0),
    headers: r.headers,
    raw: { key, value: r.value, headers: rawHeadersOf(r) },
  };
}

/** When each attempt's error happened, noted where it is caught; the history is written later, when the message is dead-lettered. */
const failureTimes = new WeakMap<object, Date>();

/** Notes that `error` ended an attempt now, for its entry in a dead letter's history; returns it. */
export function noteFailure(error: unknown): unknown {
  if (typeof error === 'object' && error !== null && !failureTimes.has(error)) failureTimes.set(error, new Date());
  return error;
}

/** An error history entry for a failed attempt, with the error's name, dated when it failed (see {@link noteFailure}). */
export function attemptError(attempt: number, error: unknown): AttemptError {
  const e = error instanceof Error ? error : new Error(String(error));
  const code = (e as { code?: unknown }).code;
  const failedAt = typeof error === 'object' && error !== null ? failureTimes.get(error) : undefined;
  return {
    attempt,
    at: (failedAt ?? new Date()).toISOString(),
    name: e.name,
    ...(typeof code === 'string' ? { code } : {}),
    message: truncateText(e.message, 2_000),
  };
}
