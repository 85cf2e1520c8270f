import type { TypedEmitter } from '@onceflow/core';
import { isRetriable } from '@onceflow/core';
import pRetry from 'p-retry';
import { backoffMs } from './backoff.ts';
import type { RelayEvents } from './events.ts';
import type { LeaseTable } from './leases.ts';
import type { ResolvedRelayOptions } from './options.ts';
import { publishRows } from './publish-rows.ts';
import type { Semaphore } from './semaphore.ts';
import { claimBatch } from './sql/claim-batch.ts';
import type { FailedAttempt } from './sql/mark-failed.ts';
import { markFailed } from './sql/mark-failed.ts';
import { markPublished } from './sql/mark-published.ts';

/** Mutable counters shared by a relay's workers. */
export interface Counters {
  published: number;
  batches: number;
  retried: number;
  dead: number;
  brokerFailures: number;
}

/** What a {@link ShardWorker} needs from its relay. */
export interface WorkerContext {
  readonly options: ResolvedRelayOptions;
  readonly leases: LeaseTable;
  readonly slots: Semaphore;
  readonly events: TypedEmitter<RelayEvents>;
  readonly counters: Counters;
  readonly signal: AbortSignal;
  isStopping(): boolean;
  /** The lease of `shard` with `token` is gone (a fenced write was refused). */
  leaseLost(shard: number, token: string): void;
  /** Hands `shard` over: releases its lease. Its worker is idle when this is called. */
  release(shard: number): Promise<void>;
}

/** The broker was unavailable; the batch is retried with backoff and no message is charged. */
class BrokerUnavailableError extends Error {
  constructor(cause: unknown) {
    super(`Broker unavailable: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'BrokerUnavailableError';
  }
}

type BatchResult = 'full' | 'partial' | 'empty' | 'wait' | 'lost';

/**
 * Publishes one shard's rows while this relay holds its lease: claim a batch in seq order,
 * send it, mark it, and go on at once while batches come back full; otherwise sleep until a
 * notification, the poll interval or a hand-over request wakes it.
 */
export class ShardWorker {
  readonly shard: number;
  /** Settles when the worker has stopped (lease lost, handed over or relay stopping). */
  readonly done: Promise<void>;
  #running = true;
  #wakeRequested = false;
  #wakeSleeper: (() => void) | undefined;
  readonly #ctx: WorkerContext;

  constructor(ctx: WorkerContext, shard: number) {
    this.#ctx = ctx;
    this.shard = shard;
    this.done = this.#run().finally(() => {
      this.#running = false;
    });
  }

  /** True until the worker's loop has ended. */
  get running(): boolean {
    return this.#running;
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
    const { options, leases, slots } = this.#ctx;
    let failures = 0;
    for (;;) {
      const lease = leases.get(this.shard);
      if (lease === undefined || this.#ctx.isStopping()) return;
      if (lease.draining) {
        await this.#ctx.release(this.shard);
        return;
      }
      let result: BatchResult | 'error' = 'wait';
      await slots.acquire();
      try {
        result = await this.#batchWithBrokerRetry(lease.token);
        failures = 0;
      } catch (error) {
        if (this.#ctx.isStopping()) return;
        failures++;
        result = 'error';
        this.#ctx.events.emit('relay:error', { error, during: `shard ${this.shard} batch` });
        options.logger.error({ shard: this.shard, error }, 'Relay batch failed; retrying after backoff');
      } finally {
        slots.release();
      }
      if (result === 'lost') return;
      if (result === 'full') {
        // Stay hot, but let timers and other shards' callbacks run between batches.
        await new Promise((resolve) => setImmediate(resolve));
        continue;
      }
      await this.#sleep(result === 'error' ? backoffMs(failures, options.minBackoffMs, options.maxBackoffMs) : options.pollIntervalMs);
    }
  }

  /** One batch; while the broker is unavailable, the same shard is retried with growing delays. */
  #batchWithBrokerRetry(token: string): Promise<BatchResult> {
    const { options, counters, events } = this.#ctx;
    return pRetry(() => this.#batch(token), {
      retries: Number.POSITIVE_INFINITY,
      factor: 2,
      minTimeout: options.minBackoffMs,
      maxTimeout: options.maxBackoffMs,
      randomize: true,
      signal: this.#ctx.signal,
      shouldRetry: ({ error }) =>
        error instanceof BrokerUnavailableError && !this.#ctx.isStopping() && this.#ctx.leases.get(this.shard)?.token === token,
      onFailedAttempt: ({ error, attemptNumber, retryDelay }) => {
        if (!(error instanceof BrokerUnavailableError)) return;
        counters.brokerFailures++;
        events.emit('relay:retry', { scope: 'broker', shard: this.shard, attempt: attemptNumber, delayMs: retryDelay, error: error.cause });
        options.logger.warn(
          { shard: this.shard, attempt: attemptNumber, retryInMs: retryDelay, error: error.cause },
          'Broker unavailable; batch kept pending, retrying after backoff',
        );
      },
    });
  }

  async #batch(token: string): Promise<BatchResult> {
    const { options, leases } = this.#ctx;
    const { knex, tables } = options;
    // Judge the lease by the local clock before reading and again before sending: a relay
    // that was paused past its lease must not publish what another relay now owns.
    if (!leases.isValid(this.shard, token)) return leases.get(this.shard)?.token === token ? 'wait' : 'lost';
    const rows = await claimBatch(knex, tables, this.shard, options.batchSize);
    if (rows.length === 0) return 'empty';
    if (!leases.isValid(this.shard, token)) return 'wait';

    const started = performance.now();
    const outcome = await publishRows(options.publisher, rows);
    const fence = { shard: this.shard, relayId: options.relayId, token };

    if (outcome.published.length > 0) {
      const seqs = outcome.published.map((r) => r.seq);
      if (!(await markPublished(knex, tables, fence, seqs))) return this.#lost(token);
      const durationMs = Math.round(performance.now() - started);
      this.#ctx.counters.published += seqs.length;
      this.#ctx.counters.batches++;
      this.#ctx.events.emit('relay:batch:published', { shard: this.shard, count: seqs.length, durationMs });
      options.logger.debug({ shard: this.shard, count: seqs.length, durationMs }, 'Batch published');
    }
    if (outcome.failed.length > 0 && !(await this.#recordFailures(outcome.failed, token))) return this.#lost(token);
    if (outcome.brokerError !== undefined) throw new BrokerUnavailableError(outcome.brokerError);
    return rows.length >= options.batchSize ? 'full' : 'partial';
  }

  /** Charges an attempt to each failed row: retry later holding its key, or park it. */
  async #recordFailures(
    failed: ReadonlyArray<{ row: { seq: string; id: string; topic: string; key: string; attempts: number }; error: unknown }>,
    token: string,
  ): Promise<boolean> {
    const { options, counters, events } = this.#ctx;
    const at = new Date();
    const attempts: FailedAttempt[] = failed.map(({ row, error }) => {
      const attempt = row.attempts + 1;
      return {
        seq: row.seq,
        entry: errorEntry(at, attempt, error),
        delayMs: backoffMs(attempt, options.minBackoffMs, options.maxBackoffMs),
        dead: !isRetriable(error) || attempt >= options.maxAttempts,
      };
    });
    const fence = { shard: this.shard, relayId: options.relayId, token };
    if (!(await markFailed(options.knex, options.tables, fence, attempts, options.onDead === 'block'))) return false;
    failed.forEach(({ row, error }, i) => {
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
    return true;
  }

  #lost(token: string): 'lost' {
    this.#ctx.leaseLost(this.shard, token);
    return 'lost';
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
