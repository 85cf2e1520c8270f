import type { Sleeper, TypedEmitter } from '@onceflow/core';
import { BrokerUnavailableError } from './errors.ts';
import type { RelayEvents } from './events.ts';
import type { LaneLayout } from './lane-layout.ts';
import type { HeldLease, LeaseTable } from './leases.ts';
import type { ResolvedRelayOptions } from './options.ts';
import type { OutboxStore } from './outbox-store.ts';
import { PendingMarks } from './pending-marks.ts';
import type { PollPacing } from './poll-pacing.ts';
import { fixedPolling } from './poll-pacing.ts';
import type { Counters, RecordContext } from './record-outcome.ts';
import { recordOutcome } from './record-outcome.ts';
import type { RelayRetryPolicies } from './relay-retry.ts';
import type { SentTurn } from './send-batch.ts';
import { claimAndSend } from './send-batch.ts';
import type { TopicLimits } from './topic-limits.ts';

/** The relay options a {@link Lane} reads. */
export type LaneOptions = Pick<ResolvedRelayOptions, 'relayId' | 'publisher' | 'batchSize' | 'maxBatchBytes' | 'pollIntervalMs' | 'logger'>;

/** How a lane reads the time and waits. */
export interface LaneClock {
  /** Monotonic milliseconds, the clock leases are judged by (`performance.now()`). */
  now(): number;
  /** Idle and backoff waits; the retry policies are built on the same one. */
  readonly sleep: Sleeper;
}

/** What a {@link Lane} needs from its relay. */
export interface LaneContext {
  readonly options: LaneOptions;
  /** The outbox: claims, marks and releases. */
  readonly store: OutboxStore;
  readonly leases: LeaseTable;
  /** Which lanes are in use and which shards each serves. */
  readonly layout: LaneLayout;
  readonly events: TypedEmitter<RelayEvents>;
  readonly counters: Counters;
  /** The largest record each topic accepts, where known. */
  readonly topicLimits: TopicLimits;
  readonly retry: RelayRetryPolicies;
  readonly clock: LaneClock;
  /**
   * How long the lane waits after a read found rows or nothing; this lane's own (its state is
   * the lane's idle streak). @defaultValue the poll interval whatever was found
   */
  readonly pacing?: PollPacing;
  /** Aborts when the relay stops: the lane ends its wait and returns once nothing is in flight. */
  readonly signal: AbortSignal;
  /** The lease of `shard` with `token` is gone (a fenced write was refused). */
  leaseLost(shard: number, token: string): void;
}

/** A wait a turn of the lane ends with. */
type Wait =
  /** Idle, after a partial batch, or after a failure; a wake ends it early. */
  | { readonly kind: 'sleep'; readonly ms: number }
  /** After a broker-wide failure; only stopping ends it early. */
  | { readonly kind: 'broker-backoff'; readonly ms: number };

/** What the lane decided to do in a turn, before it reads anything. */
type Plan =
  | { readonly kind: 'stop' }
  | { readonly kind: 'wait-for-layout' }
  | { readonly kind: 'hand-over'; readonly shards: readonly number[] }
  | Wait
  | { readonly kind: 'publish'; readonly leases: readonly HeldLease[] };

/** What a turn does once the previous batch's marks are written. */
type Turn =
  | Exclude<Plan, { kind: 'publish' }>
  | ({ readonly kind: 'sent' } & SentTurn)
  | { readonly kind: 'failed'; readonly error: unknown };

/**
 * One of a relay's `concurrency` publishing loops. In use, lane `i` serves the held shards the
 * {@link LaneLayout} gives it, so a shard (and every key in it) is only ever in one lane, and a
 * lane sends one batch at a time: a key's rows are sent strictly one batch after the other. A
 * batch spans all of the lane's shards, in seq order, so it reads and updates rows that lie
 * together on disk. Full batches follow each other at once; otherwise the lane sleeps until a
 * notification (on MySQL: an in-process wake-up), the end of its pacing's wait (poll-pacing.ts),
 * a new lease or a hand-over wakes it.
 *
 * Each turn of the loop decides what to do next; when that is publishing, it reads and sends
 * a batch while the previous clean batch's marks are still written ({@link PendingMarks}: a lane
 * uses up to two database connections). Then, at one point, it waits for those marks, and only
 * after that does what must not overlap them: write this batch's marks, wait for a layout
 * change, hand shards over, sleep or stop.
 *
 * Failures: a record-level failure charges the row an attempt (dead after `maxAttempts` or when
 * not retriable); a broker-wide failure charges nothing and the batch is tried again after the
 * broker backoff, without limit; any other failure (the database) is reported and the lane
 * waits a backoff. Rows not marked stay pending: they are sent again, never lost.
 */
export class Lane {
  readonly index: number;
  /** Settles when the lane has stopped (relay stopping). */
  readonly done: Promise<void>;
  readonly #ctx: LaneContext;
  readonly #pending = new PendingMarks();
  #wakeRequested = false;
  #wakeSleeper: (() => void) | undefined;
  /** Broker-wide failures in a row. */
  #outages = 0;
  /** Failed batches in a row, other than broker-wide failures. */
  #failures = 0;
  /** The wait the next turn begins with, as the last batch or failure decided. */
  #then: Wait | undefined;
  readonly #recordContext: RecordContext;
  readonly #pacing: PollPacing;

  constructor(ctx: LaneContext, index: number) {
    this.#ctx = ctx;
    this.index = index;
    this.#pacing = ctx.pacing ?? fixedPolling(ctx.options.pollIntervalMs);
    this.#recordContext = {
      lane: index,
      store: ctx.store,
      leases: ctx.leases,
      counters: ctx.counters,
      events: ctx.events,
      logger: ctx.options.logger,
      record: ctx.retry.record,
      now: () => ctx.clock.now(),
      leaseLost: (shard, token) => ctx.leaseLost(shard, token),
    };
    ctx.signal.addEventListener('abort', () => this.wake(), { once: true });
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

  /**
   * A turn: plan, and when publishing, read and send a batch (this overlaps the previous
   * batch's marks); then the one wait for those marks; then act. Recording a batch or a
   * failure decides the wait the next turn begins with.
   */
  async #run(): Promise<void> {
    const { layout, signal, retry } = this.#ctx;
    for (;;) {
      const turn = await this.#readAndSend();
      // The one wait for the previous clean batch's marks: nothing below overlaps them.
      await this.#pending.settled();
      switch (turn.kind) {
        case 'stop':
          return;
        case 'wait-for-layout':
          await layout.waitForLayout(signal);
          break;
        case 'hand-over':
          await this.#handOver(turn.shards);
          break;
        case 'sleep':
          await this.#sleep(turn.ms);
          break;
        case 'broker-backoff':
          await retry.lane.wait(turn.ms, signal);
          break;
        case 'sent':
          this.#then = await this.#record(turn);
          break;
        case 'failed':
          this.#then = this.#failed(turn.error);
          break;
      }
    }
  }

  /** Plans the turn; when that is publishing, claims and sends a batch. */
  async #readAndSend(): Promise<Turn> {
    const plan = this.#plan();
    if (plan.kind !== 'publish') return plan;
    try {
      const sent = await claimAndSend(this.#ctx, plan.leases, this.#pending);
      return sent === undefined ? { kind: 'sleep', ms: this.#pacing.afterNothing() } : { kind: 'sent', ...sent };
    } catch (error) {
      return { kind: 'failed', error };
    }
  }

  #plan(): Plan {
    const { leases, layout, signal, clock, options } = this.#ctx;
    if (signal.aborted) return { kind: 'stop' };
    const then = this.#then;
    this.#then = undefined;
    if (then !== undefined) return then;
    layout.check(clock.now());
    // Shards change lanes only while no lane has anything in flight.
    if (layout.changing) return { kind: 'wait-for-layout' };
    const mine = leases.all().filter((l) => this.serves(l.shard));
    const draining = mine.filter((l) => l.draining).map((l) => l.shard);
    if (draining.length > 0) return { kind: 'hand-over', shards: draining };
    const now = clock.now();
    const ready = mine.filter((l) => leases.isValid(l.shard, l.token, now));
    return ready.length === 0 ? { kind: 'sleep', ms: options.pollIntervalMs } : { kind: 'publish', leases: ready };
  }

  /**
   * Writes a sent batch's marks: in the background when it went out clean (the next batch is
   * read and sent meanwhile), else before going on. Answers the wait the next turn begins with.
   */
  async #record(sent: Extract<Turn, { kind: 'sent' }>): Promise<Wait | undefined> {
    const { batch } = sent;
    const { outcome } = batch;
    if (outcome.failed.length === 0 && outcome.brokerError === undefined) {
      this.#pending.add(
        batch.rows,
        recordOutcome(this.#recordContext, batch).catch((error: unknown) => this.#markFailed(error)),
      );
    } else {
      try {
        await recordOutcome(this.#recordContext, batch);
      } catch (error) {
        return this.#failed(error);
      }
      if (outcome.brokerError !== undefined) return this.#brokerOutage(new BrokerUnavailableError(outcome.brokerError), sent.shards);
    }
    this.#outages = 0;
    this.#failures = 0;
    const wait = this.#pacing.afterRows();
    if (!sent.full) return { kind: 'sleep', ms: wait };
    this.#ctx.layout.full(this.#ctx.clock.now());
    // Stay hot, but let timers, notifications and other lanes run between batches.
    await new Promise((resolve) => setImmediate(resolve));
    return undefined;
  }

  /** The broker was unavailable: no row is charged; the batch is tried again after the backoff. */
  #brokerOutage(outage: BrokerUnavailableError, shards: readonly number[]): Wait | undefined {
    const { retry, counters, events, options } = this.#ctx;
    this.#outages++;
    counters.brokerFailures++;
    const decision = retry.lane.decide(outage, this.#outages);
    if (!decision.retry) return this.#failed(outage);
    const { delayMs } = decision;
    events.emit('relay:retry', { scope: 'broker', shards: [...shards], attempt: this.#outages, delayMs, error: outage.cause });
    options.logger.warn(
      { lane: this.index, attempt: this.#outages, retryInMs: delayMs, error: outage.cause },
      'Broker unavailable; batch kept pending, retrying after backoff',
    );
    return { kind: 'broker-backoff', ms: delayMs };
  }

  /** A batch failed for another reason than the broker: reported, then a backoff. */
  #failed(error: unknown): Wait | undefined {
    const { events, options, retry, signal } = this.#ctx;
    this.#outages = 0;
    if (signal.aborted) return undefined;
    this.#failures++;
    events.emit('relay:error', { error, during: `lane ${this.index} batch` });
    options.logger.error({ lane: this.index, error }, 'Relay batch failed; retrying after backoff');
    return { kind: 'sleep', ms: retry.lane.delayMs(this.#failures) };
  }

  /** A mark written in the background failed: the rows stay pending and are sent again later. */
  #markFailed(error: unknown): void {
    this.#ctx.events.emit('relay:error', { error, during: `lane ${this.index} mark` });
    this.#ctx.options.logger.error({ lane: this.index, error }, 'Marking a published batch failed; its rows will be published again');
  }

  /** Hands `shards` over: releases their leases. Nothing of this lane is in flight then. */
  async #handOver(shards: readonly number[]): Promise<void> {
    const { leases, store, events, options } = this.#ctx;
    for (const shard of shards) {
      const lease = leases.drop(shard);
      if (lease === undefined) continue;
      try {
        await store.release([lease]);
      } catch (error) {
        events.emit('relay:error', { error, during: `release shard ${shard}` });
      }
      events.emit('relay:lease:lost', { shard, fencingToken: lease.token, reason: 'released' });
      options.logger.info({ shard }, 'Shard handed over');
    }
  }

  /** Waits `ms`, or less when woken (or the relay stops). */
  async #sleep(ms: number): Promise<void> {
    if (this.#wakeRequested) {
      this.#wakeRequested = false;
      return;
    }
    const wake = new AbortController();
    this.#wakeSleeper = () => wake.abort();
    await this.#ctx.clock.sleep(ms, wake.signal);
    this.#wakeSleeper = undefined;
    this.#wakeRequested = false;
  }
}
