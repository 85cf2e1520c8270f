import type { SpanAttributes } from '@onceflow/core';
import {
  ErrorCodes,
  isRetriable,
  mysqlLockConflict,
  OnceflowError,
  recordProcessOutcome,
  withBatchProcessSpan,
  withProcessSpan,
} from '@onceflow/core';
import type { Knex } from 'knex';
import type { ConsumedMessage } from './consumed-message.ts';
import type { DedupMode } from './dedup.ts';
import { dedupKeyOf, dedupScopeOf, scopedStoreKey } from './dedup.ts';
import { InboxRowWait } from './errors.ts';
import type { FastPathEntry } from './fast-path.ts';
import { RedisFastPath } from './fast-path.ts';
import type { InboxOptions, ResolvedInboxOptions } from './inbox-options.ts';
import { resolveInboxOptions } from './inbox-options.ts';

/** A transactional handler: its writes go through `trx`, which also holds the inbox row. */
export type MessageHandler<Payload = unknown> = (message: ConsumedMessage<Payload>, trx: Knex.Transaction) => Promise<void>;

/** A batch handler: receives, in one transaction, only the messages not handled before. */
export type BatchHandler<Payload = unknown> = (messages: ConsumedMessage<Payload>[], trx: Knex.Transaction) => Promise<void>;

/** What happened to one message: its effect committed now, or it had committed before. */
export type InboxOutcome = 'handled' | 'duplicate';

/** The outcome of {@link Inbox.handleGroup} or {@link Inbox.handleBatch}, in input order. */
export interface GroupResult {
  readonly outcomes: InboxOutcome[];
  /** Indices of the duplicates answered by the Redis fast path, without a database round trip. */
  readonly fastPathHits: ReadonlySet<number>;
}

/**
 * A group transaction failed (code `ONCEFLOW_TRANSACTION`). `index` is the message whose
 * handler threw, or -1 when the failure was the database's (the inbox insert or the commit);
 * every write was rolled back. `cause` is the failure itself, and `retriable` is its own.
 */
export class GroupFailure extends OnceflowError {
  /** Index of the message whose handler threw, or -1. */
  readonly index: number;

  constructor(index: number, cause: unknown) {
    super(ErrorCodes.transaction, cause instanceof Error ? cause.message : String(cause), { cause, retriable: isRetriable(cause) });
    this.index = index;
  }
}

/** The transactions of an {@link Inbox} that the consumer's strategies run through. */
export interface InboxTransactions {
  /** See {@link Inbox.handleGroup}. */
  handleGroup(messages: readonly ConsumedMessage[], dedupKeys: readonly string[], handler: MessageHandler<unknown>): Promise<GroupResult>;
  /** See {@link Inbox.handleBatch}. */
  handleBatch(messages: readonly ConsumedMessage[], dedupKeys: readonly string[], handler: BatchHandler<unknown>): Promise<GroupResult>;
}

/**
 * The transactional inbox, free of any transport. In one database transaction it first
 * inserts the inbox row of (consumerName, topic, dedup key) (without the topic under
 * `dedupScope: 'consumer'`), then runs the handler with that
 * transaction: the handler's writes commit if and only if the row does, and a copy whose row
 * exists (or is being written by a transaction still open) is skipped.
 */
export class Inbox implements InboxTransactions {
  /** The validated options. */
  readonly options: ResolvedInboxOptions;
  readonly #fastPath: RedisFastPath | undefined;

  constructor(options: InboxOptions) {
    this.options = resolveInboxOptions(options);
    const o = this.options;
    this.#fastPath =
      o.redis === undefined
        ? undefined
        : new RedisFastPath(o.redis, {
            prefix: o.fastPathPrefix,
            schema: o.tables.schema,
            consumer: o.consumerName,
            ttlMs: o.fastPathTtlMs,
            timeoutMs: o.fastPathTimeoutMs,
            logger: o.logger,
          });
  }

  /** The dedup mode in use. */
  get dedup(): DedupMode {
    return this.options.dedup;
  }

  /** The dedup key of `message`; throws DedupKeyError when none can be derived. */
  dedupKeyOf(message: ConsumedMessage): string {
    return dedupKeyOf(message, this.options.dedup);
  }

  /** Handles one message in its own transaction. Handler errors are rethrown, nothing is kept. */
  async handle<Payload = unknown>(message: ConsumedMessage<Payload>, handler: MessageHandler<Payload>): Promise<InboxOutcome> {
    const key = this.dedupKeyOf(message);
    try {
      const result = await this.handleGroup([message], [key], handler);
      return result.outcomes[0] as InboxOutcome;
    } catch (error) {
      throw error instanceof GroupFailure ? error.cause : error;
    }
  }

  /**
   * Handles several messages in one transaction, one handler call each, in the given order
   * (the caller keeps per-key order by what it groups). Inbox rows go first in one statement;
   * a repeated dedup key inside the group counts as a duplicate of its first occurrence. On any
   * failure everything rolls back and a {@link GroupFailure} is thrown.
   */
  async handleGroup<Payload = unknown>(
    messages: readonly ConsumedMessage<Payload>[],
    dedupKeys: readonly string[],
    handler: MessageHandler<Payload>,
  ): Promise<GroupResult> {
    const entries = this.#entries(messages, dedupKeys);
    const ids = entries.map((e) => scopedStoreKey(e.scope, e.dedupKey));
    const { outcomes, candidates, fastPathHits } = await this.#candidates(ids, entries);
    if (candidates.length === 0) return this.#result(messages, entries, outcomes, fastPathHits);
    let current = -1;
    try {
      await this.options.knex.transaction(async (trx) => {
        const fresh = await this.#insert(trx, messages, dedupKeys, candidates);
        await this.options.sql.markTransaction(trx);
        for (const i of candidates) {
          if (!fresh.has(ids[i] as string)) continue;
          // Blames the previous handler (still `current`) if the transaction ended under it.
          if (current >= 0) await this.options.sql.betweenHandlers(trx);
          current = i;
          const message = messages[i] as ConsumedMessage<Payload>;
          // Inside the inbox transaction: the span covers exactly the work that commits once.
          await withProcessSpan(message.topic, message.headers, this.#spanAttributes(message), () => handler(message, trx));
          outcomes[i] = 'handled';
        }
        current = -1;
        await this.options.sql.assertNotAborted(trx);
      });
    } catch (error) {
      throw new GroupFailure(current, error);
    }
    return this.#result(messages, entries, outcomes, fastPathHits);
  }

  /**
   * Batch mode: one transaction, one multi-row inbox insert, and one call of `handler` with
   * only the messages that were new (in input order). Throws {@link GroupFailure} (index -1 for
   * the database, 0 for the handler) after rolling everything back.
   */
  async handleBatch<Payload = unknown>(
    messages: readonly ConsumedMessage<Payload>[],
    dedupKeys: readonly string[],
    handler: BatchHandler<Payload>,
  ): Promise<GroupResult> {
    const entries = this.#entries(messages, dedupKeys);
    const ids = entries.map((e) => scopedStoreKey(e.scope, e.dedupKey));
    const { outcomes, candidates, fastPathHits } = await this.#candidates(ids, entries);
    if (candidates.length === 0) return this.#result(messages, entries, outcomes, fastPathHits);
    let inHandler = false;
    try {
      await this.options.knex.transaction(async (trx) => {
        const fresh = await this.#insert(trx, messages, dedupKeys, candidates);
        const batch = candidates.filter((i) => fresh.has(ids[i] as string));
        if (batch.length === 0) return;
        await this.options.sql.markTransaction(trx);
        inHandler = true;
        const newMessages = batch.map((i) => messages[i] as ConsumedMessage<Payload>);
        const first = newMessages[0] as ConsumedMessage<Payload>;
        await withBatchProcessSpan(
          first.topic,
          newMessages.map((m) => m.headers),
          { 'messaging.consumer.group.name': this.options.consumerName, 'messaging.destination.partition.id': String(first.partition) },
          () => handler(newMessages, trx),
        );
        await this.options.sql.assertNotAborted(trx);
        inHandler = false;
        for (const i of batch) outcomes[i] = 'handled';
      });
    } catch (error) {
      throw new GroupFailure(inHandler ? 0 : -1, error);
    }
    return this.#result(messages, entries, outcomes, fastPathHits);
  }

  /** Messaging attributes of a consumer span for `message` (semantic conventions). */
  #spanAttributes(message: ConsumedMessage<unknown>): SpanAttributes {
    return {
      'messaging.consumer.group.name': this.options.consumerName,
      'messaging.destination.partition.id': String(message.partition),
      'messaging.kafka.offset': Number(message.offset),
      ...(message.id === undefined ? {} : { 'messaging.message.id': message.id }),
    };
  }

  /** The outcome of a group: handled keys go to the fast path, skipped copies get their span. */
  #result(
    messages: readonly ConsumedMessage<unknown>[],
    entries: readonly FastPathEntry[],
    outcomes: InboxOutcome[],
    fastPathHits: Set<number>,
  ): GroupResult {
    this.#remember(entries, outcomes);
    this.#traceDuplicates(messages, outcomes);
    return { outcomes, fastPathHits };
  }

  /** A span per skipped copy, so a trace shows where each duplicate went. */
  #traceDuplicates(messages: readonly ConsumedMessage<unknown>[], outcomes: readonly InboxOutcome[]): void {
    outcomes.forEach((outcome, i) => {
      const message = messages[i];
      if (outcome === 'duplicate' && message !== undefined) {
        recordProcessOutcome(message.topic, message.headers, this.#spanAttributes(message), 'duplicate');
      }
    });
  }

  /** Each message's scope (its topic in topic scope, else '') and dedup key. */
  #entries(messages: readonly ConsumedMessage<unknown>[], dedupKeys: readonly string[]): FastPathEntry[] {
    return dedupKeys.map((dedupKey, i) => ({
      scope: dedupScopeOf(messages[i] as ConsumedMessage<unknown>, this.options.dedupScope),
      dedupKey,
    }));
  }

  /** First occurrences of each identity that the fast path does not already know as done. */
  async #candidates(
    ids: readonly string[],
    entries: readonly FastPathEntry[],
  ): Promise<{ outcomes: InboxOutcome[]; candidates: number[]; fastPathHits: Set<number> }> {
    const outcomes: InboxOutcome[] = ids.map(() => 'duplicate');
    const seen = new Set<string>();
    const firsts: number[] = [];
    ids.forEach((k, i) => {
      if (seen.has(k)) return;
      seen.add(k);
      firsts.push(i);
    });
    if (this.#fastPath === undefined) return { outcomes, candidates: firsts, fastPathHits: new Set() };
    const known = await this.#fastPath.done(firsts.map((i) => entries[i] as FastPathEntry));
    const hits = new Set(firsts.filter((_, j) => known.has(j)));
    return { outcomes, candidates: firsts.filter((i) => !hits.has(i)), fastPathHits: hits };
  }

  /** Inserts the candidates' inbox rows; returns the identities that were new. */
  async #insert(
    trx: Knex.Transaction,
    messages: readonly ConsumedMessage<unknown>[],
    dedupKeys: readonly string[],
    candidates: readonly number[],
  ): Promise<Set<string>> {
    const { tables, consumerName, sql } = this.options;
    let fresh: Awaited<ReturnType<typeof sql.insertInboxRows>>;
    try {
      fresh = await sql.insertInboxRows(trx, tables, consumerName, this.#columns(messages, dedupKeys, candidates));
    } catch (error) {
      // Only MySQL reports lock conflicts here (PostgreSQL's insert waits without a limit).
      if (mysqlLockConflict(error)) throw new InboxRowWait(error);
      throw error;
    }
    return new Set(fresh.map((r) => scopedStoreKey(r.scope, r.dedupKey)));
  }

  #columns(messages: readonly ConsumedMessage<unknown>[], dedupKeys: readonly string[], candidates: readonly number[]) {
    const picked = candidates.map((i) => messages[i] as ConsumedMessage<unknown>);
    return {
      scopes: picked.map((m) => dedupScopeOf(m, this.options.dedupScope)),
      dedupKeys: candidates.map((i) => dedupKeys[i] as string),
      messageIds: picked.map((m) => m.id ?? null),
      topics: picked.map((m) => m.topic),
      partitions: picked.map((m) => m.partition),
      offsets: picked.map((m) => m.offset),
    };
  }

  #remember(entries: readonly FastPathEntry[], outcomes: readonly InboxOutcome[]): void {
    if (this.#fastPath === undefined) return;
    this.#fastPath.remember(entries.filter((_, i) => outcomes[i] === 'handled'));
  }
}
