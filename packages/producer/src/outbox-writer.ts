import type { EncodedMessage, MessageInput } from '@onceflow/core';
import {
  activeTraceHeaders,
  assertPeerVersion,
  dialectOf,
  ErrorCodes,
  encodeMessage,
  keyLockId,
  missingSchemaError,
  newMessageId,
  OnceflowError,
  shardOf,
  ValidationError,
} from '@onceflow/core';
import type { Knex } from 'knex';
import { findExisting } from './find-existing.ts';
import { insertMessages } from './insert-messages.ts';
import { writeMysqlMessages } from './mysql-writer.ts';
import type { OutboxWriterOptions, ResolvedOutboxWriterOptions } from './options.ts';
import { resolveOutboxWriterOptions } from './options.ts';
import { RelayWaker } from './relay-waker.ts';

/** What {@link OutboxWriter.enqueue} reports for each message, in input order. */
export interface EnqueuedMessage {
  /** The message id (uuid v7); the earlier message's id for a duplicate. */
  readonly id: string;
  readonly topic: string;
  readonly key: string;
  readonly idempotencyKey: string;
  /** True when `(topic, idempotencyKey)` was already in the outbox and nothing new was written. */
  readonly duplicate: boolean;
}

/** Enqueueing found `(topic, idempotencyKey)` already stored and `onDuplicate` is `'error'`. */
export class DuplicateMessageError extends OnceflowError {
  readonly topic: string;
  readonly idempotencyKey: string;
  /** Id of the message already stored. */
  readonly existingId: string;

  constructor(topic: string, idempotencyKey: string, existingId: string) {
    super(
      ErrorCodes.duplicate,
      `A message with idempotencyKey ${JSON.stringify(idempotencyKey)} on topic "${topic}" is already in the outbox (id ${existingId})`,
    );
    this.topic = topic;
    this.idempotencyKey = idempotencyKey;
    this.existingId = existingId;
  }
}

/**
 * Writes messages into the outbox inside the caller's transaction, so they are published if
 * and only if that transaction commits.
 */
export class OutboxWriter {
  readonly options: ResolvedOutboxWriterOptions;
  readonly #waker: RelayWaker | undefined;

  constructor(options: OutboxWriterOptions = {}) {
    assertPeerVersion('knex');
    this.options = resolveOutboxWriterOptions(options);
    const { knex, tables, logger } = this.options;
    this.#waker = knex === undefined ? undefined : new RelayWaker(knex, tables.channel, logger);
  }

  /** Enqueues one message in `trx`. */
  enqueue(trx: Knex.Transaction, message: MessageInput): Promise<EnqueuedMessage>;
  /** Enqueues several messages in `trx`, in order; one statement whatever their number. */
  enqueue(trx: Knex.Transaction, messages: readonly MessageInput[]): Promise<EnqueuedMessage[]>;
  async enqueue(trx: Knex.Transaction, input: MessageInput | readonly MessageInput[]): Promise<EnqueuedMessage | EnqueuedMessage[]> {
    assertTransaction(trx);
    const many = Array.isArray(input);
    const list: readonly unknown[] = many ? input : [input];
    // Validate everything before touching the database, so bad input writes nothing.
    const encoded = list.map((m, i) => encodeMessage(m, this.options, many ? `messages[${i}].` : ''));
    const results = await this.#write(trx, encoded);
    return many ? results : (results[0] as EnqueuedMessage);
  }

  async #write(trx: Knex.Transaction, messages: readonly EncodedMessage[]): Promise<EnqueuedMessage[]> {
    if (messages.length === 0) return [];
    if (dialectOf(trx) === 'mysql') {
      return writeMysqlMessages(trx, this.options, messages, (...args) => new DuplicateMessageError(...args));
    }
    const { tables } = this.options;
    const lockIds = [...new Set(messages.map((m) => keyLockId(tables.schema, m.topic, m.key)))].sort(compareBigIntText);

    const ids = messages.map(() => newMessageId());
    const idempotencyKeys = messages.map((m, i) => m.idempotencyKey ?? (ids[i] as string));
    const topics = messages.map((m) => m.topic);
    const shards = messages.map((m) => shardOf(m.topic, m.key));
    const trace = activeTraceHeaders();
    let inserted: Awaited<ReturnType<typeof insertMessages>>;
    try {
      inserted = await insertMessages(trx, tables, lockIds, {
        ids,
        topics,
        keys: messages.map((m) => m.key),
        shards,
        idempotencyKeys,
        types: messages.map((m) => m.type ?? null),
        payloads: messages.map((m) => m.payload.toString('base64')),
        headers: messages.map((m) =>
          // The trace active at enqueue, unless the caller set a traceparent of its own.
          JSON.stringify(trace === undefined || m.headers.traceparent !== undefined ? m.headers : { ...m.headers, ...trace }),
        ),
        availableAt: messages.map((m) => m.availableAt?.toISOString() ?? null),
      });
    } catch (error) {
      throw missingSchemaError(error, tables.schema) ?? error;
    }

    const written = new Set(inserted.map((r) => r.id));
    if (written.size > 0 && this.#waker !== undefined) {
      this.#waker.afterCommit(
        trx,
        shards.filter((_, i) => written.has(ids[i] as string)),
      );
    }
    const out: EnqueuedMessage[] = messages.map((m, i) => ({
      id: ids[i] as string,
      topic: m.topic,
      key: m.key,
      idempotencyKey: idempotencyKeys[i] as string,
      duplicate: !written.has(ids[i] as string),
    }));
    if (written.size === messages.length) return out;

    const missing = out.filter((r) => r.duplicate);
    const existing = await findExisting(
      trx,
      tables,
      missing.map((r) => r.topic),
      missing.map((r) => r.idempotencyKey),
    );
    const byKey = new Map(existing.map((e) => [`${e.topic}\u0000${e.idempotency_key}`, e.id]));
    return out.map((r) => {
      if (!r.duplicate) return r;
      const existingId = byKey.get(`${r.topic}\u0000${r.idempotencyKey}`);
      if (existingId === undefined) return r; // Duplicate within this very call: both names refer to the first row.
      if (this.options.onDuplicate === 'error') throw new DuplicateMessageError(r.topic, r.idempotencyKey, existingId);
      return { ...r, id: existingId };
    });
  }
}

function compareBigIntText(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

function assertTransaction(trx: unknown): void {
  if (typeof trx !== 'function' || (trx as { isTransaction?: unknown }).isTransaction !== true) {
    throw new ValidationError(
      'trx',
      trx,
      'enqueue needs the knex transaction of your business write (knex.transaction(async (trx) => ...)), so the message commits with it',
    );
  }
}

/**
 * Enqueues into the outbox of `options.schema` (default "onceflow") inside `trx`. Shorthand
 * for `new OutboxWriter(options).enqueue(trx, ...)`: it builds that writer on every call
 * (checking the options again, which is cheap) and keeps nothing between calls. With
 * `options.knex`, each call's commit therefore sends a wake-up of its own; hold one
 * {@link OutboxWriter} to have the wake-ups of concurrent commits merged.
 */
export function enqueue(trx: Knex.Transaction, message: MessageInput, options?: OutboxWriterOptions): Promise<EnqueuedMessage>;
export function enqueue(
  trx: Knex.Transaction,
  messages: readonly MessageInput[],
  options?: OutboxWriterOptions,
): Promise<EnqueuedMessage[]>;
export function enqueue(
  trx: Knex.Transaction,
  input: MessageInput | readonly MessageInput[],
  options: OutboxWriterOptions = {},
): Promise<EnqueuedMessage | EnqueuedMessage[]> {
  const writer = new OutboxWriter(options);
  return Array.isArray(input) ? writer.enqueue(trx, input as readonly MessageInput[]) : writer.enqueue(trx, input as MessageInput);
}
