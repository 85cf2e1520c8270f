import type { PartitionBatch } from '@onceflow/core';
import type { CommitQueue } from './commit-queue.ts';
import type { ConsumedMessage } from './consumed-message.ts';
import { toConsumedMessage } from './consumed-message.ts';
import { noteFailure } from './dead-letters.ts';
import { KeyQueue } from './key-queue.ts';
import { OffsetTracker } from './offset-tracker.ts';
import type { AttemptResult, Item, Outcome, RunContext } from './run-context.ts';
import { TransactionSlots } from './transaction-slots.ts';
import { WatermarkCommitter } from './watermark-committer.ts';

/**
 * Works one fetched partition batch. The strategy lays the messages out into key queues that
 * run side by side, each worked one unit at a time from its front (which keeps each key in
 * order); at most `concurrency` transactions run at once. The contiguous watermark is
 * committed as it advances, one commit in flight at a time. Heartbeats while it works; once
 * the partition is revoked (or a heartbeat fails) it takes no new work and commits nothing
 * more. Unfinished messages are not resolved, so they are fetched again by whoever owns the
 * partition next.
 */
export class PartitionRun {
  readonly #ctx: RunContext;
  readonly #batch: PartitionBatch;
  readonly #tracker: OffsetTracker;
  readonly #abort = new AbortController();
  readonly #committer: WatermarkCommitter;
  readonly #slots: TransactionSlots;
  /** Queues being worked, those split off included; each settles without rejecting. */
  readonly #running = new Set<Promise<void>>();
  /** Messages finished (handled, skipped, fenced, filtered or dead-lettered), in any order. */
  #finished = 0;

  constructor(ctx: RunContext, batch: PartitionBatch, commits: CommitQueue) {
    this.#ctx = ctx;
    this.#batch = batch;
    this.#tracker = new OffsetTracker(batch.records.map((r) => r.offset));
    this.#committer = new WatermarkCommitter(batch, this.#tracker, commits);
    this.#slots = new TransactionSlots(ctx.concurrency);
  }

  /** Runs the batch to its end (or until revocation or stop) and asks for the last commit. */
  async run(): Promise<void> {
    const ctx = this.#ctx;
    if (ctx.stopping.aborted || !this.#batch.isActive() || this.#batch.records.length === 0) return;
    const onStop = () => this.#abort.abort();
    ctx.stopping.addEventListener('abort', onStop, { once: true });
    const ticker = setInterval(() => this.#tick(), ctx.heartbeatIntervalMs);
    try {
      const layout = ctx.strategy.layout(this.#accepted(), ctx.concurrency);
      for (const items of layout.queues) this.#start(new KeyQueue(items, layout));
      while (this.#running.size > 0) await Promise.all(this.#running);
    } finally {
      clearInterval(ticker);
      ctx.stopping.removeEventListener('abort', onStop);
    }
    this.#committer.request();
    ctx.stats.abandoned += this.#batch.records.length - this.#finished;
  }

  /** The batch's messages to work on; those of types not asked for are finished at once. */
  #accepted(): Item[] {
    const { types, stats, events } = this.#ctx;
    const items: Item[] = [];
    for (const record of this.#batch.records) {
      const message = toConsumedMessage(record);
      if (types === undefined || (message.type !== undefined && types.has(message.type))) {
        items.push(this.#item(message));
        continue;
      }
      this.#markDone(message);
      stats.filtered++;
      events.emit('inbox:filtered', { message, type: message.type ?? null });
    }
    if (items.length < this.#batch.records.length) this.#committer.request();
    return items;
  }

  #item(message: ConsumedMessage): Item {
    try {
      return { message, dedupKey: this.#ctx.dedupKeyOf(message), keyError: undefined };
    } catch (error) {
      return { message, dedupKey: undefined, keyError: error };
    }
  }

  #start(queue: KeyQueue): void {
    const worked = this.#work(queue)
      .catch((error: unknown) => this.#fail(error))
      .finally(() => this.#running.delete(worked));
    this.#running.add(worked);
  }

  /** Works `queue` from its front until it is empty, abandoned, or a dead letter cannot be stored. */
  async #work(queue: KeyQueue): Promise<void> {
    for (let unit = queue.next(); unit !== undefined; unit = queue.next()) {
      if (!this.#active()) return;
      const goOn =
        unit.kind === 'dead-letter'
          ? await this.#deadLetter(queue, unit.item, [unit.item.keyError], 0)
          : await this.#attempts(queue, unit.items, unit.failures);
      if (!goOn) return;
    }
  }

  /**
   * Attempts one unit as the retry policy says, until it is done, dead-lettered, or handed back
   * to the queue to run in smaller units. `prior`: the failures it had before. False: the queue
   * stops (revoked, stopped, or its dead letter could not be stored).
   */
  async #attempts(queue: KeyQueue, items: readonly Item[], prior: readonly unknown[]): Promise<boolean> {
    const { policy, stats, events } = this.#ctx;
    const failures = [...prior];
    for (;;) {
      if (failures.length > 0) {
        const error = failures.at(-1);
        const decision = policy.decide(error, failures.length);
        if (!decision.retry) return this.#giveUp(queue, items, failures);
        stats.retried++;
        events.emit('inbox:retry', { message: (items[0] as Item).message, attempt: failures.length, error, delayMs: decision.delayMs });
        const rest = queue.splitOff(items.length);
        if (rest !== undefined) this.#start(rest);
        // A stop or revocation during the wait abandons the message: it is fetched again, not dead-lettered.
        if (!(await policy.wait(decision.delayMs, this.#abort.signal)) || !this.#active()) return false;
      }
      const attempt = await this.#attempt(queue, items);
      if (attempt === undefined) return false;
      const [result, durationMs] = attempt;
      if (result.kind === 'done') {
        for (const [i, item] of items.entries())
          this.#finish(item, result.outcomes[i] ?? 'duplicate', result.fastPathHits.has(i), durationMs);
        queue.complete(items.length);
        this.#committer.request();
        return true;
      }
      const error = noteFailure(result.error);
      if (!this.#active()) return false;
      if (items.length === 1 || result.isolate === 'none') failures.push(error);
      else {
        if (result.isolate === 'each') queue.isolateEach(items.length);
        else queue.isolate(result.isolate, [error]);
        return true;
      }
    }
  }

  /**
   * One attempt in a transaction slot, with its duration. A busy answer (a live lease elsewhere)
   * is waited out and asked again, as it is no attempt, while the queue's other keys go on;
   * undefined when that wait was abandoned.
   */
  async #attempt(queue: KeyQueue, items: readonly Item[]): Promise<[Exclude<AttemptResult, { kind: 'busy' }>, number] | undefined> {
    const { strategy, policy, stats, events } = this.#ctx;
    for (;;) {
      const [result, durationMs] = await this.#slots.run(() => timed(() => strategy.attempt(items)));
      if (result.kind !== 'busy') return [result, durationMs];
      const item = items[0] as Item;
      stats.busy++;
      // The lease may be held for long (a crashed consumer's, until it expires): only this
      // key waits for it.
      const rest = queue.splitOff(items.length);
      if (rest !== undefined) this.#start(rest);
      events.emit('inbox:busy', { message: item.message, dedupKey: item.dedupKey as string, retryInMs: result.retryInMs });
      if (!(await policy.wait(result.retryInMs, this.#abort.signal))) return undefined;
    }
  }

  /** A unit that will not be retried: one message is dead-lettered, several run alone from now on. */
  async #giveUp(queue: KeyQueue, items: readonly Item[], failures: readonly unknown[]): Promise<boolean> {
    if (items.length > 1) {
      queue.isolateEach(items.length);
      return true;
    }
    return this.#deadLetter(queue, items[0] as Item, failures, failures.length);
  }

  async #deadLetter(queue: KeyQueue, item: Item, errors: readonly unknown[], attempts: number): Promise<boolean> {
    const stored = await this.#slots.run(() => this.#ctx.deadLetter(item, errors, attempts));
    if (!stored) return false;
    queue.complete(1);
    this.#markDone(item.message);
    this.#committer.request();
    return true;
  }

  /** Records a message's outcome; `durationMs` is the time of the transaction (or run) that decided it. */
  #finish(item: Item, outcome: Outcome, fastPath: boolean, durationMs: number): void {
    const { stats, events } = this.#ctx;
    const dedupKey = item.dedupKey as string;
    this.#markDone(item.message);
    if (outcome === 'handled') {
      stats.handled++;
      events.emit('inbox:handled', { message: item.message, dedupKey, durationMs });
    } else if (outcome === 'fenced') {
      stats.fenced++;
      events.emit('inbox:fenced', { message: item.message, dedupKey });
    } else {
      stats.duplicates++;
      if (fastPath) stats.fastPathHits++;
      events.emit('inbox:duplicate', { message: item.message, dedupKey, fastPath });
    }
  }

  #markDone(message: ConsumedMessage): void {
    this.#tracker.markDone(message.offset);
    this.#finished++;
  }

  /** Whether to take new work; a batch found inactive is revoked here, between two units. */
  #active(): boolean {
    if (!this.#abort.signal.aborted && !this.#batch.isActive()) this.#revoke();
    return !this.#abort.signal.aborted;
  }

  #tick(): void {
    if (!this.#batch.isActive()) {
      this.#revoke();
      return;
    }
    this.#batch.heartbeat().catch((error: unknown) => {
      // Most often a rebalance: the partition may be gone. Finish what runs, take nothing new,
      // and commit nothing; whoever owns the partition next refetches the rest.
      this.#ctx.events.emit('inbox:error', { error, topic: this.#batch.topic, partition: this.#batch.partition });
      this.#revoke();
    });
  }

  #fail(error: unknown): void {
    this.#ctx.logger.error(
      { error, topic: this.#batch.topic, partition: this.#batch.partition },
      'A key queue failed; its messages are fetched again',
    );
    this.#ctx.events.emit('inbox:error', { error, topic: this.#batch.topic, partition: this.#batch.partition });
  }

  #revoke(): void {
    this.#committer.revoke();
    this.#abort.abort();
  }
}

/** Runs `work` and resolves with its result and how long it took, in milliseconds. */
async function timed<T>(work: () => Promise<T>): Promise<[T, number]> {
  const started = performance.now();
  const result = await work();
  return [result, performance.now() - started];
}
