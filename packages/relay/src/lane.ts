import type { TypedEmitter } from '@onceflow/core';
import { isRetriable, startPublishSpan } from '@onceflow/core';
import pRetry from 'p-retry';
import { backoffMs } from './backoff.ts';
import type { RelayEvents } from './events.ts';
import type { LaneLayout } from './lane-layout.ts';
import type { HeldLease, LeaseTable } from './leases.ts';
import type { ResolvedRelayOptions } from './options.ts';
import type { PublishOutcome } from './publish-rows.ts';
import { publishRows } from './publish-rows.ts';
import type { OutboxRow } from './sql/claim-batch.ts';
import { claimBatch } from './sql/claim-batch.ts';
import type { Fence } from './sql/fence.ts';
import type { FailedAttempt } from './sql/mark-failed.ts';
import { markFailed } from './sql/mark-failed.ts';
import { markPublished } from './sql/mark-published.ts';
import type { TopicLimits } from './topic-limits.ts';

/** Mutable counters shared by a relay's lanes. */
export interface Counters {
  published: number;
  batches: number;
  retried: number;
  dead: number;
  brokerFailures: number;
}

/** What a {@link Lane} needs from its relay. */
export interface LaneContext {
  readonly options: ResolvedRelayOptions;
  readonly leases: LeaseTable;
  /** Which lanes are in use and which shards each serves. */
  readonly layout: LaneLayout;
  readonly events: TypedEmitter<RelayEvents>;
  readonly counters: Counters;
  /** The largest record each topic accepts, where known. */
  readonly topicLimits: TopicLimits;
  readonly signal: AbortSignal;
  isStopping(): boolean;
  /** The lease of `shard` with `token` is gone (a fenced write was refused). */
  leaseLost(shard: number, token: string): void;
  /** Hands `shard` over: releases its lease. Nothing of the shard is in flight then. */
  release(shard: number): Promise<void>;
}

/** The broker was unavailable; the batch is retried with backoff and no message is charged. */
class BrokerUnavailableError extends Error {
  constructor(cause: unknown) {
    super(`Broker unavailable: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'BrokerUnavailableError';
  }
}

type BatchResult = 'full' | 'partial' | 'empty';

/**
 * One of a relay's `concurrency` publishing loops. In use, lane `i` serves the held shards the
 * {@link LaneLayout} gives it, so a shard (and every key in it) is only ever in one lane, and a
 * lane sends one batch at a time: a key's rows are sent strictly one batch after the other
 * (a lane uses up to two database connections: one batch's marks beside the next's read). A
 * batch spans all of the lane's shards, in seq order, so it reads and updates rows that lie
 * together on disk. Full batches follow each other at once; otherwise the lane sleeps until a
 * notification, the poll interval, a new lease or a hand-over wakes it.
 */
export class Lane {
  readonly index: number;
  /** Settles when the lane has stopped (relay stopping). */
  readonly done: Promise<void>;
  readonly #ctx: LaneContext;
  #wakeRequested = false;
  #wakeSleeper: (() => void) | undefined;
  /** The marks of the last clean batch, still being written, and the seqs it sent per shard. */
  #inflight: { done: Promise<void>; sent: Map<number, string[]> } | undefined;

  constructor(ctx: LaneContext, index: number) {
    this.#ctx = ctx;
    this.index = index;
    this.done = this.#run();
  }

  /** True when `shard` belongs to this lane. */
  serves(shard: number): boolean {
    return this.#ctx.layout.serves(this.index, shard);
  }

  /** Ends a sleep now, or makes the next one return at once (new rows may have committed). */
  wake(): void {
    this.#wakeRequested = true;
    this.#wakeSleeper?.();
  }

  async #sleep(ms: number): Promise<void> {
    if (this.#wakeRequested) {
      this.#wakeRequested = false;
      return;
    }
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wakeSleeper = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#wakeSleeper = done;
    });
    this.#wakeRequested = false;
  }

  async #run(): Promise<void> {
    const { options, leases, events, layout } = this.#ctx;
    let failures = 0;
    while (!this.#ctx.isStopping()) {
      layout.check(performance.now());
      if (layout.changing) {
        // Shards change lanes only while no lane has anything in flight.
        await this.#settle();
        await layout.park(this.#ctx.signal);
        continue;
      }
      const mine = leases.all().filter((l) => this.serves(l.shard));
      if (mine.some((l) => l.draining)) {
        // Once the last marks are written nothing of the lane is in flight: hand over now.
        await this.#settle();
        for (const lease of mine) if (lease.draining) await this.#ctx.release(lease.shard);
      }
      const now = performance.now();
      const ready = mine.filter((l) => !l.draining && leases.isValid(l.shard, l.token, now));
      if (ready.length === 0) {
        await this.#settle();
        await this.#sleep(options.pollIntervalMs);
        continue;
      }
      let result: BatchResult | 'error';
      try {
        result = await this.#batchWithBrokerRetry(ready);
        failures = 0;
      } catch (error) {
        if (this.#ctx.isStopping()) break;
        failures++;
        result = 'error';
        events.emit('relay:error', { error, during: `lane ${this.index} batch` });
        options.logger.error({ lane: this.index, error }, 'Relay batch failed; retrying after backoff');
      }
      if (result === 'full') {
        layout.full(performance.now());
        // Stay hot, but let timers, notifications and other lanes run between batches.
        await new Promise((resolve) => setImmediate(resolve));
        continue;
      }
      await this.#settle();
      await this.#sleep(result === 'error' ? backoffMs(failures, options.minBackoffMs, options.maxBackoffMs) : options.pollIntervalMs);
    }
    await this.#settle();
  }

  /** Waits until the marks of the last clean batch are written (they never reject). */
  async #settle(): Promise<void> {
    const inflight = this.#inflight;
    this.#inflight = undefined;
    await inflight?.done;
  }

  /** One batch; while the broker is unavailable it is retried with growing delays. */
  #batchWithBrokerRetry(leases: readonly HeldLease[]): Promise<BatchResult> {
    const { options, counters, events } = this.#ctx;
    const shards = leases.map((l) => l.shard);
    return pRetry(() => this.#batch(leases), {
      retries: Number.POSITIVE_INFINITY,
      factor: 2,
      minTimeout: options.minBackoffMs,
      maxTimeout: options.maxBackoffMs,
      randomize: true,
      signal: this.#ctx.signal,
      shouldRetry: ({ error }) => error instanceof BrokerUnavailableError && !this.#ctx.isStopping(),
      onFailedAttempt: ({ error, attemptNumber, retryDelay }) => {
        if (!(error instanceof BrokerUnavailableError)) return;
        counters.brokerFailures++;
        events.emit('relay:retry', { scope: 'broker', shards, attempt: attemptNumber, delayMs: retryDelay, error: error.cause });
        options.logger.warn(
          { lane: this.index, attempt: attemptNumber, retryInMs: retryDelay, error: error.cause },
          'Broker unavailable; batch kept pending, retrying after backoff',
        );
      },
    });
  }

  /**
   * Claims, sends and marks one batch. After a clean batch (everything published) the marks
   * are written while the next batch is already read and sent: that read skips exactly the
   * rows just sent, so nothing is sent twice, a key's rows still go out one batch after the
   * other, and a row whose transaction committed late is taken in its seq place at once.
   * After any failure the marks are written before going on.
   */
  async #batch(requested: readonly HeldLease[]): Promise<BatchResult> {
    const { options, leases } = this.#ctx;
    const { knex, tables } = options;
    // Judge leases by the local clock before reading and again before sending: a relay that
    // was paused past its lease must not publish what another relay may own by now.
    const valid = (now = performance.now()) => requested.filter((l) => leases.isValid(l.shard, l.token, now));
    const before = valid();
    if (before.length === 0) return 'empty';
    const sent = this.#inflight?.sent;
    const sending = sent === undefined ? undefined : before.map((l) => sent.get(l.shard) ?? []);
    const claimed = await claimBatch(
      knex,
      tables,
      before.map((l) => l.shard),
      options.batchSize,
      sending,
      before.some((l) => l.mayHoldKeys),
    );
    if (claimed.length === 0) return 'empty';
    const still = valid();
    const stillShards = new Set(still.map((l) => l.shard));
    // Rows of a shard whose lease lapsed meanwhile are left pending, whole shard at a time,
    // so no key loses its order.
    const rows = stillShards.size === before.length ? claimed : claimed.filter((r) => stillShards.has(r.shard));
    if (rows.length === 0) return 'empty';

    const started = performance.now();
    const maxRecordBytes = await this.#ctx.topicLimits.of(rows.map((r) => r.topic));
    const maxBatchBytes = Math.min(options.maxBatchBytes, ...maxRecordBytes.values());
    const span = startPublishSpan(
      [...new Set(rows.map((r) => r.topic))],
      rows.map((r) => r.headers),
    );
    const outcome = await publishRows(options.publisher, rows, { maxBatchBytes, maxRecordBytes }).catch((error: unknown) => {
      span.end(error);
      throw error;
    });
    span.end(outcome.brokerError ?? outcome.failed[0]?.error);
    // The fence covers the shards this batch has rows in, not every shard of the lane: each
    // fenced shard is a row lock in the marking statement, and a small batch touches few.
    const batchShards = new Set(rows.map((r) => r.shard));
    const fenced = still.filter((l) => batchShards.has(l.shard));
    const fence: Fence = { relayId: options.relayId, shards: fenced.map((l) => l.shard), tokens: fenced.map((l) => l.token) };
    // One batch's marks at a time: the previous ones are written before these start.
    await this.#settle();
    if (outcome.failed.length === 0 && outcome.brokerError === undefined) {
      const sentSeqs = new Map<number, string[]>();
      for (const row of rows) {
        const seqs = sentSeqs.get(row.shard);
        if (seqs === undefined) sentSeqs.set(row.shard, [row.seq]);
        else seqs.push(row.seq);
      }
      this.#inflight = { done: this.#record(outcome, fence, started).catch((error: unknown) => this.#markFailed(error)), sent: sentSeqs };
    } else {
      await this.#record(outcome, fence, started);
      if (outcome.brokerError !== undefined) throw new BrokerUnavailableError(outcome.brokerError);
    }
    return claimed.length >= options.batchSize ? 'full' : 'partial';
  }

  /** A mark written in the background failed: the rows stay pending and are sent again later. */
  #markFailed(error: unknown): void {
    this.#ctx.events.emit('relay:error', { error, during: `lane ${this.index} mark` });
    this.#ctx.options.logger.error({ lane: this.index, error }, 'Marking a published batch failed; its rows will be published again');
  }

  /** Marks what was published and charges failed rows an attempt, both fenced. */
  async #record(outcome: PublishOutcome, fence: Fence, started: number): Promise<void> {
    const { options, counters, events } = this.#ctx;
    if (outcome.published.length > 0) {
      const held = await markPublished(
        options.knex,
        options.tables,
        fence,
        outcome.published.map((r) => r.id),
        options.deletePublished,
      );
      const marked = this.#checkFence(fence, held, outcome.published);
      const count = marked.length;
      if (count > 0) {
        const durationMs = Math.round(performance.now() - started);
        counters.published += count;
        counters.batches++;
        // Per-row figures for the hooks (metrics), built only when something listens.
        if (events.listens('relay:batch:published')) {
          const ackedAt = Date.now();
          const topics: Record<string, number> = {};
          const sinceEnqueueMs: number[] = [];
          for (const row of marked) {
            topics[row.topic] = (topics[row.topic] ?? 0) + 1;
            sinceEnqueueMs.push(ackedAt - Date.parse(row.created_at));
          }
          events.emit('relay:batch:published', { shards: [...held], count, durationMs, topics, sinceEnqueueMs });
        }
        options.logger.debug({ lane: this.index, count, durationMs }, 'Batch published');
      }
    }
    if (outcome.failed.length === 0) return;
    const at = new Date();
    const attempts: FailedAttempt[] = outcome.failed.map(({ row, error }) => {
      const attempt = row.attempts + 1;
      return {
        id: row.id,
        entry: errorEntry(at, attempt, error),
        delayMs: backoffMs(attempt, options.minBackoffMs, options.maxBackoffMs),
        dead: !isRetriable(error) || attempt >= options.maxAttempts,
      };
    });
    // Claims look for held keys from now on, also while this write is under way; and a
    // check for held keys that ran before it commits is not trusted (bumped again after).
    const failedShards = new Set(outcome.failed.map((f) => f.row.shard));
    for (const shard of failedShards) this.#ctx.leases.failureRecorded(shard);
    let held: Set<number>;
    try {
      held = new Set(await markFailed(options.knex, options.tables, fence, attempts, options.onDead === 'block'));
    } finally {
      for (const shard of failedShards) this.#ctx.leases.failureRecorded(shard);
    }
    this.#checkFence(
      fence,
      [...held],
      outcome.failed.map((f) => f.row),
    );
    outcome.failed.forEach(({ row, error }, i) => {
      if (!held.has(row.shard)) return;
      const a = attempts[i] as FailedAttempt;
      const attempt = row.attempts + 1;
      const fields = { id: row.id, topic: row.topic, key: row.key, attempt, error };
      if (a.dead) {
        counters.dead++;
        events.emit('relay:dead', { id: row.id, topic: row.topic, key: row.key, attempts: attempt, error });
        options.logger.error(fields, 'Message is dead: parked with its error history (list and requeue it)');
      } else {
        counters.retried++;
        const nextAttemptAt = new Date(at.getTime() + a.delayMs);
        events.emit('relay:retry', { scope: 'record', id: row.id, topic: row.topic, key: row.key, attempt, nextAttemptAt, error });
        options.logger.warn({ ...fields, nextAttemptAt }, 'Publishing a message failed; retrying later, its key waits');
      }
    });
  }

  /** Reports shards whose fence failed as lost; answers how many of `rows` were in held shards. */
  #checkFence(fence: Fence, held: readonly number[], rows: readonly OutboxRow[]): readonly OutboxRow[] {
    const heldSet = new Set(held);
    fence.shards.forEach((shard, i) => {
      if (!heldSet.has(shard)) this.#ctx.leaseLost(shard, fence.tokens[i] as string);
    });
    return heldSet.size === fence.shards.length ? rows : rows.filter((r) => heldSet.has(r.shard));
  }
}

/** One entry of a row's `errors` history. */
function errorEntry(at: Date, attempt: number, error: unknown): Record<string, unknown> {
  const message = error instanceof Error ? error.message : String(error);
  const code = error !== null && typeof error === 'object' ? (error as { code?: unknown }).code : undefined;
  const entry: Record<string, unknown> = { at: at.toISOString(), attempt, error: message.slice(0, 2_000) };
  if (typeof code === 'string') entry.code = code;
  return entry;
}
