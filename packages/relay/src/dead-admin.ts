import type { AttemptError } from '@onceflow/core';
import { defaultSchema, intOption, isUuid, OptionError } from '@onceflow/core';
import type { Knex } from 'knex';
import type { SchemaOption } from './admin.ts';
import { DeadMessageError } from './errors.ts';
import { relaySqlFor } from './relay-sql.ts';
import type { DeadFilter, DeadRow } from './sql/dead-messages.ts';

/** A dead outbox message. */
export interface DeadMessage {
  /** Outbox sequence number (order of commit for one key); use it to page. */
  seq: string;
  id: string;
  topic: string;
  key: string;
  idempotencyKey: string;
  type: string | null;
  attempts: number;
  /** Every failed attempt, oldest first. */
  errors: AttemptError[];
  createdAt: Date;
  deadAt: Date;
}

/** Options of {@link listDead}. */
export interface ListDeadOptions extends SchemaOption {
  /** Only this topic. */
  topic?: string;
  /** Only this key. */
  key?: string;
  /** Return rows after this `seq` (paging). @defaultValue "0" */
  afterSeq?: string;
  /** Most rows returned. @defaultValue 100 */
  limit?: number;
}

/** Lists dead outbox messages with their error history, oldest first. */
export async function listDead(knex: Knex, options: ListDeadOptions = {}): Promise<DeadMessage[]> {
  const sql = relaySqlFor(knex);
  const tables = sql.tables(options.schema ?? defaultSchema());
  const afterSeq = options.afterSeq ?? '0';
  if (!/^\d{1,19}$/.test(afterSeq)) throw new OptionError('afterSeq', afterSeq, 'a decimal outbox seq');
  const limit = intOption('limit', options.limit, 100, 1, 100_000);
  const rows = await sql.selectDead(knex, tables, filterOf(options), afterSeq, limit);
  return rows.map(toDeadMessage);
}

/** One dead message by id, with its whole error history; throws DeadMessageError when there is none. */
export async function getDead(knex: Knex, id: string, options: SchemaOption = {}): Promise<DeadMessage> {
  if (!isUuid(id)) throw new OptionError('id', id, 'a message id (uuid)');
  const sql = relaySqlFor(knex);
  const [row] = await sql.selectDead(knex, sql.tables(options.schema ?? defaultSchema()), { ids: [id] }, '0', 1);
  if (row === undefined) throw new DeadMessageError(id, 'no dead message has this id');
  return toDeadMessage(row);
}

/**
 * Which dead messages {@link requeueDead} and {@link purgeDead} act on: ids, or a topic (and
 * key) filter; an empty filter selects nothing unless `all: true`.
 */
export type DeadSelection = readonly string[] | { topic?: string; key?: string; all?: boolean };

/** The selection of {@link requeueDead}. */
export type RequeueSelection = DeadSelection;

/** Options of {@link requeueDead} and {@link purgeDead}. */
export interface DeadBatchOptions extends SchemaOption {
  /** Rows per statement. @defaultValue 1000 */
  batchSize?: number;
  /** Called after each statement with the number of messages done so far (progress of long runs). */
  onProgress?: (done: number) => void;
}

/**
 * Puts dead messages back to pending with a fresh attempt budget (their error history stays)
 * and wakes the relays; returns the ids requeued, in bounded batches, oldest first.
 */
export async function requeueDead(knex: Knex, selection: DeadSelection, options: DeadBatchOptions = {}): Promise<string[]> {
  const sql = relaySqlFor(knex);
  const tables = sql.tables(options.schema ?? defaultSchema());
  const filter = resolveSelection(selection);
  const batchSize = intOption('batchSize', options.batchSize, 1_000, 1, 100_000);
  const ids: string[] = [];
  if (filter === null) return ids;
  for (;;) {
    const batch = await sql.requeueDeadBatch(knex, tables, filter, batchSize);
    ids.push(...batch);
    options.onProgress?.(ids.length);
    if (batch.length < batchSize) return ids;
  }
}

/**
 * Deletes dead messages for good, in bounded batches, oldest first; returns how many. A dead
 * message that held back later messages of its key (onDead 'block') releases them.
 */
export async function purgeDead(knex: Knex, selection: DeadSelection, options: DeadBatchOptions = {}): Promise<number> {
  const sql = relaySqlFor(knex);
  const tables = sql.tables(options.schema ?? defaultSchema());
  const filter = resolveSelection(selection);
  const batchSize = intOption('batchSize', options.batchSize, 1_000, 1, 100_000);
  let total = 0;
  if (filter === null) return total;
  for (;;) {
    const deleted = await sql.purgeDeadBatch(knex, tables, filter, batchSize);
    total += deleted;
    options.onProgress?.(total);
    if (deleted < batchSize) return total;
  }
}

/** The filter a selection stands for, or null when it names no message. */
function resolveSelection(selection: DeadSelection): DeadFilter | null {
  if (Array.isArray(selection)) {
    const bad = selection.find((id) => !isUuid(id));
    if (bad !== undefined) throw new OptionError('ids', bad, 'message ids (uuids)');
    return selection.length === 0 ? null : { ids: selection };
  }
  const s = selection as { topic?: string; key?: string; all?: boolean };
  const filter = filterOf(s);
  if (filter.topic === undefined && filter.key === undefined && s.all !== true) {
    throw new OptionError('selection', selection, 'message ids, a topic and/or key, or { all: true }');
  }
  return filter;
}

function filterOf(options: { topic?: string | undefined; key?: string | undefined }): DeadFilter {
  return { topic: options.topic, key: options.key };
}

function toDeadMessage(r: DeadRow): DeadMessage {
  return {
    seq: r.seq,
    id: r.id,
    topic: r.topic,
    key: r.key,
    idempotencyKey: r.idempotency_key,
    type: r.type,
    attempts: r.attempts,
    errors: r.errors.map(toAttemptError),
    createdAt: r.created_at,
    deadAt: r.dead_at,
  };
}

/**
 * An entry of a stored outbox history as an {@link AttemptError}. Entries are stored as
 * `{ at, attempt, error, code? }` (the relay's lanes write them; rows already hold that
 * format), so they carry no error name.
 */
function toAttemptError(entry: Record<string, unknown>): AttemptError {
  const message = typeof entry.error === 'string' ? entry.error : String(entry.error ?? '');
  return {
    attempt: Number(entry.attempt),
    at: String(entry.at),
    message,
    ...(typeof entry.code === 'string' ? { code: entry.code } : {}),
    error: message,
  };
}
