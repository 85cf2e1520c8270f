import { defaultSchema, intOption, isUuid, OptionError, tablesFor } from '@onceflow/core';
import type { Knex } from 'knex';
import type { DeadFilter, DeadRow } from './sql/dead-messages.ts';
import { requeueDeadRows, selectDead } from './sql/dead-messages.ts';
import { selectOutboxStatus } from './sql/outbox-status.ts';
import { pruneBatch } from './sql/prune-outbox.ts';

/** Names the schema of Onceflow's tables. */
export interface SchemaOption {
  /** @defaultValue ONCEFLOW_SCHEMA, else "onceflow" */
  schema?: string;
}

/** One attempt in a message's error history. */
export interface AttemptError {
  /** When the attempt failed (ISO 8601). */
  at: string;
  /** 1-based attempt number. */
  attempt: number;
  /** What went wrong. */
  error: string;
  /** Error code or Kafka error type, when known. */
  code?: string;
}

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
  const tables = tablesFor(options.schema ?? defaultSchema());
  const afterSeq = options.afterSeq ?? '0';
  if (!/^\d{1,19}$/.test(afterSeq)) throw new OptionError('afterSeq', afterSeq, 'a decimal outbox seq');
  const limit = intOption('limit', options.limit, 100, 1, 100_000);
  const rows = await selectDead(knex, tables, filterOf(options), afterSeq, limit);
  return rows.map(toDeadMessage);
}

/** Which dead messages {@link requeueDead} puts back: ids, or a topic (and key) filter. */
export type RequeueSelection = readonly string[] | { topic?: string; key?: string; all?: boolean };

/**
 * Puts dead messages back to pending with a fresh attempt budget (their error history stays)
 * and wakes the relays; returns the ids requeued. Select them by id, or by topic and key; an
 * empty filter requeues nothing unless `all: true`.
 */
export async function requeueDead(knex: Knex, selection: RequeueSelection, options: SchemaOption = {}): Promise<string[]> {
  const tables = tablesFor(options.schema ?? defaultSchema());
  let filter: DeadFilter;
  if (Array.isArray(selection)) {
    const bad = selection.find((id) => !isUuid(id));
    if (bad !== undefined) throw new OptionError('ids', bad, 'message ids (uuids)');
    if (selection.length === 0) return [];
    filter = { ids: selection };
  } else {
    const s = selection as { topic?: string; key?: string; all?: boolean };
    filter = filterOf(s);
    if (filter.topic === undefined && filter.key === undefined && s.all !== true) {
      throw new OptionError('selection', selection, 'message ids, a topic and/or key, or { all: true }');
    }
  }
  return requeueDeadRows(knex, tables, filter);
}

/** Options of {@link pruneOutbox}. */
export interface PruneOutboxOptions extends SchemaOption {
  /** Delete published rows published longer ago than this. */
  olderThanMs: number;
  /** Rows per delete statement. @defaultValue 1000 */
  batchSize?: number;
  /** Stop after this many statements (0: until done). @defaultValue 0 */
  maxBatches?: number;
}

/**
 * Deletes published outbox rows older than `olderThanMs` in bounded batches until none are
 * left; returns how many were deleted. Dead and pending rows are kept.
 */
export async function pruneOutbox(knex: Knex, options: PruneOutboxOptions): Promise<number> {
  const tables = tablesFor(options.schema ?? defaultSchema());
  const olderThanMs = intOption('olderThanMs', options.olderThanMs, -1, 0);
  if (olderThanMs < 0) throw new OptionError('olderThanMs', options.olderThanMs, 'a number of milliseconds (0 or more)');
  const batchSize = intOption('batchSize', options.batchSize, 1_000, 1, 100_000);
  const maxBatches = intOption('maxBatches', options.maxBatches, 0, 0);
  let total = 0;
  for (let n = 0; maxBatches === 0 || n < maxBatches; n++) {
    const deleted = await pruneBatch(knex, tables, olderThanMs, batchSize);
    total += deleted;
    if (deleted < batchSize) break;
  }
  return total;
}

/** One topic's state in the outbox. */
export interface TopicStatus {
  topic: string;
  /** Pending messages due now: the backlog. */
  backlog: number;
  /** Pending messages not due yet (delayed, or backing off after a failure). */
  waiting: number;
  /** Pending messages that failed at least once. */
  retrying: number;
  /** Attempts spent on pending messages. */
  attempts: number;
  /** Dead messages. */
  dead: number;
  /** Age of the oldest due message in milliseconds, null when none is due. */
  oldestPendingAgeMs: number | null;
}

/** Backlog, oldest pending age, attempts and dead count per topic (for `onceflow status`). */
export async function outboxStatus(knex: Knex, options: SchemaOption = {}): Promise<TopicStatus[]> {
  const rows = await selectOutboxStatus(knex, tablesFor(options.schema ?? defaultSchema()));
  return rows.map((r) => ({
    topic: r.topic,
    backlog: r.due,
    waiting: r.delayed,
    retrying: r.retrying,
    attempts: r.attempts,
    dead: r.dead,
    oldestPendingAgeMs: r.oldest_due_age_ms === null ? null : Math.round(r.oldest_due_age_ms),
  }));
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
    errors: r.errors as unknown as AttemptError[],
    createdAt: r.created_at,
    deadAt: r.dead_at,
  };
}
