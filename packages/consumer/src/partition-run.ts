import type { Logger, PartitionBatch, TypedEmitter } from '@onceflow/core';
import { isRetriable } from '@onceflow/core';
import { AbortError } from 'p-retry';
import type { CommitQueue } from './commit-queue.ts';
import type { ConsumedMessage } from './consumed-message.ts';
import { toConsumedMessage } from './consumed-message.ts';
import type { InboxConsumerEvents, InboxConsumerStats } from './consumer-events.ts';
import type { ResolvedConsumerOptions } from './consumer-options.ts';
import { noteFailure } from './dead-letters.ts';
import type { Inbox } from './inbox.ts';
import { GroupFailure } from './inbox.ts';
import { splitIntoLanes } from './lanes.ts';
import { OffsetTracker } from './offset-tracker.ts';
import { parkMessage } from './park.ts';
import { withRetries } from './retries.ts';
import type { SideEffectInbox } from './side-effect/side-effect-inbox.ts';
import { backoffDelay, sleep } from './sleep.ts';
import { WatermarkCommitter } from './watermark-committer.ts';
import { WorkPermits } from './work-permits.ts';

/** What a partition run needs from its {@link InboxConsumer}. */
export interface RunContext {
  readonly inbox: Inbox;
  readonly effects: SideEffectInbox | undefined;
  readonly options: ResolvedConsumerOptions;
  readonly events: TypedEmitter<InboxConsumerEvents>;
  readonly stats: InboxConsumerStats;
  readonly logger: Logger;
  /** Aborted when the consumer stops: take no new work, finish what runs, commit. */
  readonly stopping: AbortSignal;
}

/** A message with its dedup key, or the reason it has none. */
export interface Item {
  readonly message: ConsumedMessage;
  readonly dedupKey: string | undefined;
  readonly keyError: unknown;
}

type Outcome = 'handled' | 'duplicate' | 'fenced';

/**
 * Works one fetched partition batch: messages of different keys in parallel lanes, each key in
 * order, and commits the contiguous watermark as it advances, one commit in flight at a time.
 * Heartbeats while it works; once the partition is revoked (or a heartbeat fails) it takes no
 * new work and commits nothing more. Unfinished messages are not resolved, so they are fetched
 * again by whoever owns the partition next.
 */
export class PartitionRun {
  readonly #ctx: RunContext;
  readonly #batch: PartitionBatch;
  readonly #tracker: OffsetTracker;
  readonly #abort = new AbortController();
  readonly #committer: WatermarkCommitter;
  /** Messages finished (handled, skipped, fenced or parked), in any order. */
  #finished = 0;
  /** Lanes split off from a lane whose message waits for a retry; they never reject. */
  readonly #spilled: Promise<void>[] = [];
  /** At most `concurrency` transactions at once, however many lanes have split off. */
  readonly #permits: WorkPermits;

  constructor(ctx: RunContext, batch: PartitionBatch, commits: CommitQueue) {
    this.#ctx = ctx;
    this.#batch = batch;
    this.#tracker = new OffsetTracker(batch.records.map((r) => r.offset));
    this.#committer = new WatermarkCommitter(batch, this.#tracker, commits);
    this.#permits = new WorkPermits(ctx.options.concurrency);
  }

  /** Runs the batch to its end (or until revocation or stop) and asks for the last commit. */
  async run(): Promise<void> {
    const ctx = this.#ctx;
    if (ctx.stopping.aborted || !this.#batch.isActive() || this.#batch.records.length === 0) return;
    const onStop = () => this.#abort.abort();
    ctx.stopping.addEventListener('abort', onStop, { once: true });
    const ticker = setInterval(() => this.#tick(), ctx.options.heartbeatIntervalMs);
    try {
      const items = this.#batch.records.map((r) => this.#item(toConsumedMessage(r)));
      if (ctx.options.mode.kind === 'batch') await this.#runBatchMode(items);
      else {
        // One lane per transaction's worth of messages, up to `concurrency`: a small batch runs
        // as one transaction instead of a round of single-message ones.
        const count = Math.min(ctx.options.concurrency, Math.ceil(items.length / this.#groupSize()));
        // allSettled: a lane that fails unexpectedly must not leave the others running unobserved.
        const lanes = splitIntoLanes(items, (i) => i.message.key, count);
        const results = await Promise.allSettled(lanes.map((lane) => this.#runLane(lane)));
        for (const r of results) if (r.status === 'rejected') this.#fail(r.reason);
        // Lanes split off while a message waited for its retry.
        while (this.#spilled.length > 0) await Promise.all(this.#spilled.splice(0));
      }
    } finally {
      clearInterval(ticker);
      ctx.stopping.removeEventListener('abort', onStop);
    }
    this.#committer.request();
    ctx.stats.abandoned += this.#batch.records.length - this.#finished;
  }

  #item(message: ConsumedMessage): Item {
    try {
      return { message, dedupKey: this.#ctx.inbox.dedupKeyOf(message), keyError: undefined };
    } catch (error) {
      return { message, dedupKey: undefined, keyError: error };
    }
  }

  #active(): boolean {
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
      'A lane failed; its messages are fetched again',
    );
    this.#ctx.events.emit('inbox:error', { error, topic: this.#batch.topic, partition: this.#batch.partition });
  }

  #revoke(): void {
    this.#committer.revoke();
    this.#abort.abort();
  }

  async #runLane(items: readonly Item[]): Promise<void> {
    let lane = items;
    const groupSize = this.#groupSize();
    const singles = new Set<number>();
    const prior = new Map<number, unknown[]>();
    let singlesUntil = 0;
    let groupEnd = 0;
    let i = 0;
    while (i < lane.length) {
      if (!this.#active()) return;
      const item = lane[i] as Item;
      if (item.dedupKey === undefined) {
        if (!(await this.#park(item, [item.keyError], 0))) return;
        i++;
        continue;
      }
      if (groupSize === 1 || singles.has(i) || i < singlesUntil) {
        const at = i;
        const spill = () => {
          lane = this.#spill(lane, at);
        };
        if (!(await this.#single(item, prior.get(i) ?? [], spill))) return;
        i++;
        continue;
      }
      let end = Math.min(lane.length, i + groupSize, groupEnd > i ? groupEnd : lane.length);
      for (let k = i + 1; k < end; k++) {
        if ((lane[k] as Item).dedupKey === undefined || singles.has(k)) {
          end = k;
          break;
        }
      }
      const chunk = lane.slice(i, end);
      try {
        const [result, durationMs] = await this.#permits.run(() =>
          timed(() =>
            this.#ctx.inbox.handleGroup(
              chunk.map((c) => c.message),
              chunk.map((c) => c.dedupKey as string),
              this.#transactionalHandler(),
            ),
          ),
        );
        for (const [j, c] of chunk.entries()) this.#finish(c, result.outcomes[j] ?? 'duplicate', result.fastPathHits.has(j), durationMs);
        this.#committer.request();
        i = end;
      } catch (error) {
        if (!(error instanceof GroupFailure)) throw error;
        if (error.index >= 0 || chunk.length === 1) {
          // The failing message is retried alone; the messages before it group again.
          const at = i + Math.max(0, error.index);
          prior.set(at, [noteFailure(error.cause)]);
          singles.add(at);
          groupEnd = at;
        } else {
          // The database failed without naming a message: go one by one through this chunk.
          singlesUntil = end;
        }
      }
    }
  }

  /**
   * The message at `at` is about to wait for a retry: the lane's later messages of other keys
   * go on in a lane of their own, so only its own key waits with it. Returns what stays; a
   * second call for the same message finds nothing more to move.
   */
  #spill(lane: readonly Item[], at: number): readonly Item[] {
    const key = (lane[at] as Item).message.key;
    const stay = lane.slice(0, at + 1);
    const moved: Item[] = [];
    for (const item of lane.slice(at + 1)) (key !== null && item.message.key === key ? stay : moved).push(item);
    if (moved.length > 0) this.#spilled.push(this.#runLane(moved).catch((error: unknown) => this.#fail(error)));
    return stay;
  }

  /** Messages of one lane that share a transaction: only transactional mode groups them. */
  #groupSize(): number {
    const { mode, maxMessagesPerTransaction } = this.#ctx.options;
    return mode.kind === 'transactional' ? maxMessagesPerTransaction : 1;
  }

  #transactionalHandler() {
    const mode = this.#ctx.options.mode;
    if (mode.kind !== 'transactional') throw new Error('not in transactional mode');
    return mode.handler;
  }

  async #runBatchMode(items: readonly Item[]): Promise<void> {
    const { options } = this.#ctx;
    // Records without a dedup key are never handled, so parking them first changes no order.
    for (const item of items) {
      if (item.dedupKey === undefined && !(await this.#park(item, [item.keyError], 0))) return;
    }
    const good = items.filter((i) => i.dedupKey !== undefined);
    for (let start = 0; start < good.length; start += options.maxBatchSize) {
      if (!this.#active()) return;
      const chunk = good.slice(start, start + options.maxBatchSize);
      const errors: unknown[] = [];
      const outcome = await withRetries(this.#ctx, this.#abort.signal, chunk[0] as Item, 1, errors, () => this.#batchAttempt(chunk)).catch(
        () => undefined,
      );
      if (outcome !== undefined) {
        this.#committer.request();
        continue;
      }
      if (!this.#active()) return;
      if (chunk.length === 1) {
        if (!(await this.#park(chunk[0] as Item, errors, errors.length))) return;
        continue;
      }
      // Isolate the poison: every message of the failed chunk alone, each with its own attempts.
      for (const item of chunk) if (!(await this.#single(item, []))) return;
    }
  }

  async #batchAttempt(chunk: readonly Item[]): Promise<Outcome> {
    const mode = this.#ctx.options.mode;
    if (mode.kind !== 'batch') throw new Error('not in batch mode');
    try {
      const [result, durationMs] = await this.#permits.run(() =>
        timed(() =>
          this.#ctx.inbox.handleBatch(
            chunk.map((c) => c.message),
            chunk.map((c) => c.dedupKey as string),
            mode.handler,
          ),
        ),
      );
      for (const [j, c] of chunk.entries()) this.#finish(c, result.outcomes[j] ?? 'duplicate', result.fastPathHits.has(j), durationMs);
      return 'handled';
    } catch (error) {
      throw error instanceof GroupFailure ? error.cause : error;
    }
  }

  /**
   * One message alone with retries; `prior` holds failures it already had. `onWait` runs before
   * each wait for a retry. False: abandoned.
   */
  async #single(item: Item, prior: readonly unknown[], onWait: () => void = () => undefined): Promise<boolean> {
    const { maxAttempts, retryMinDelayMs, retryMaxDelayMs } = this.#ctx.options;
    const errors = [...prior];
    const last = errors.at(-1);
    if (errors.length > 0 && (!isRetriable(last) || errors.length >= maxAttempts)) return this.#park(item, errors, errors.length);
    if (errors.length > 0) {
      const delayMs = backoffDelay(errors.length + 1, retryMinDelayMs, retryMaxDelayMs);
      this.#ctx.stats.retried++;
      this.#ctx.events.emit('inbox:retry', { message: item.message, attempt: errors.length, error: last, delayMs });
      onWait();
      if (!(await sleep(delayMs, this.#abort.signal))) return false;
    }
    try {
      const [outcome, fastPath, durationMs] = await withRetries(
        this.#ctx,
        this.#abort.signal,
        item,
        errors.length + 1,
        errors,
        () => this.#attempt(item),
        onWait,
      );
      this.#finish(item, outcome, fastPath, durationMs);
      this.#committer.request();
      return true;
    } catch {
      if (!this.#active()) return false;
      return this.#park(item, errors, errors.length);
    }
  }

  /** One attempt of one message in the consumer's mode. */
  async #attempt(item: Item): Promise<[Outcome, boolean, number]> {
    const { inbox, effects, options } = this.#ctx;
    const key = item.dedupKey as string;
    const mode = options.mode;
    if (mode.kind === 'side-effect' && effects !== undefined) {
      for (;;) {
        const [outcome, durationMs] = await this.#permits.run(() => timed(() => effects.run(item.message, mode.handler, key)));
        if (outcome !== 'busy') return [outcome, false, durationMs];
        // A live lease elsewhere: wait for it to end, never run beside it. Not an attempt.
        this.#ctx.stats.busy++;
        const retryInMs = Math.min(options.leaseMs, 100 + Math.random() * 100);
        this.#ctx.events.emit('inbox:busy', { message: item.message, dedupKey: key, retryInMs });
        if (!(await sleep(retryInMs, this.#abort.signal))) throw new AbortError('the partition was revoked or the consumer stopped');
      }
    }
    try {
      const [result, durationMs] = await this.#permits.run(() =>
        timed(() =>
          mode.kind === 'batch'
            ? inbox.handleBatch([item.message], [key], mode.handler)
            : inbox.handleGroup([item.message], [key], this.#transactionalHandler()),
        ),
      );
      return [result.outcomes[0] ?? 'duplicate', result.fastPathHits.has(0), durationMs];
    } catch (error) {
      throw error instanceof GroupFailure ? error.cause : error;
    }
  }

  /** Records a message's outcome; `durationMs` is the time of the transaction (or run) that decided it. */
  #finish(item: Item, outcome: Outcome, fastPath: boolean, durationMs: number): void {
    const { stats, events } = this.#ctx;
    const dedupKey = item.dedupKey as string;
    this.#tracker.markDone(item.message.offset);
    this.#finished++;
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

  async #park(item: Item, errors: readonly unknown[], attempts: number): Promise<boolean> {
    const parked = await this.#permits.run(() => parkMessage(this.#ctx, item, errors, attempts));
    if (!parked) return false;
    this.#tracker.markDone(item.message.offset);
    this.#finished++;
    this.#committer.request();
    return true;
  }
}

/** Runs `work` and resolves with its result and how long it took, in milliseconds. */
async function timed<T>(work: () => Promise<T>): Promise<[T, number]> {
  const started = performance.now();
  const result = await work();
  return [result, performance.now() - started];
}
