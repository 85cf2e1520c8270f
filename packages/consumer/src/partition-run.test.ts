import type { IncomingRecord, PartitionBatch, Sleeper } from '@onceflow/core';
import { FatalHandlerError, HeaderNames, RetryPolicy, silentLogger, TypedEmitter } from '@onceflow/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CommitQueue } from './commit-queue.ts';
import type { ConsumedMessage } from './consumed-message.ts';
import type { InboxConsumerEvents } from './consumer-events.ts';
import { emptyStats } from './consumer-events.ts';
import { DedupKeyError } from './errors.ts';
import { splitByKey } from './key-queue.ts';
import { PartitionRun } from './partition-run.ts';
import type { AttemptResult, ConsumerStrategy, Item, RunContext } from './run-context.ts';

/** Records `key:offset`; a record without a key string of its own has no idempotency key (no dedup key). */
function records(spec: readonly string[]): IncomingRecord[] {
  return spec.map((key, offset) => ({
    topic: 't',
    partition: 0,
    offset: String(offset),
    key,
    value: Buffer.from('{}'),
    headers:
      key === 'nokey' ? {} : { [HeaderNames.idempotencyKey]: `${key}-${offset}`, [HeaderNames.type]: key === 'other' ? 'other' : 'paid' },
    timestamp: '0',
  }));
}

/** A partition batch that records commits; `active` false once the partition is revoked. */
function fakeBatch(recs: IncomingRecord[]) {
  const state = { active: true, commits: [] as string[], heartbeat: async () => undefined };
  const batch: PartitionBatch = {
    topic: 't',
    partition: 0,
    records: recs,
    resolve: () => undefined,
    commit: async (offset) => {
      if (!state.active) return false;
      state.commits.push(offset);
      return true;
    },
    heartbeat: () => state.heartbeat(),
    isActive: () => state.active,
  };
  return { batch, state };
}

/** A clock whose waits end only when the test says so (or at once, when `auto`). */
function fakeClock(auto: boolean) {
  const waits: number[] = [];
  const pending: Array<(ok: boolean) => void> = [];
  let waiting = Promise.withResolvers<void>();
  const sleep: Sleeper = (ms, signal) => {
    waits.push(ms);
    if (signal?.aborted === true) return Promise.resolve(false);
    if (auto) return Promise.resolve(true);
    const { promise, resolve } = Promise.withResolvers<boolean>();
    pending.push(resolve);
    signal?.addEventListener('abort', () => resolve(false), { once: true });
    waiting.resolve();
    return promise;
  };
  return {
    sleep,
    waits,
    /** Resolves once some wait has begun since the last call. */
    waitBegun: async () => {
      await waiting.promise;
      waiting = Promise.withResolvers<void>();
    },
    /** Ends every wait begun so far. */
    advance: () => {
      for (const resolve of pending.splice(0)) resolve(true);
    },
  };
}

/**
 * A strategy that fails as scripted: `failures` maps an offset to the errors of its next
 * attempts. A group fails at its first scripted message. `gate` may hold an attempt open.
 */
function scriptedStrategy(options: {
  groupSize?: number;
  failures?: Record<string, unknown[]>;
  gate?: (items: readonly Item[]) => Promise<void>;
  /** Whether a failing group names its culprit and a wait splits off other keys (transactional), or neither (batch). */
  blame?: boolean;
}) {
  const failures = new Map(Object.entries(options.failures ?? {}));
  const calls: string[][] = [];
  const handled: string[] = [];
  const load = { running: 0, most: 0 };
  const groupSize = options.groupSize ?? 1;
  const strategy: ConsumerStrategy = {
    mode: 'transactional',
    layout: (items, concurrency) => ({
      queues: splitByKey(items, (i) => i.message.key, Math.min(concurrency, Math.ceil(items.length / groupSize))),
      groupSize,
      splitOnWait: options.blame !== false,
    }),
    attempt: async (items): Promise<AttemptResult> => {
      load.running++;
      load.most = Math.max(load.most, load.running);
      try {
        calls.push(items.map((i) => i.message.offset));
        await options.gate?.(items);
        await Promise.resolve();
        for (const [index, item] of items.entries()) {
          const error = failures.get(item.message.offset)?.shift();
          if (error !== undefined) return { kind: 'failed', error, isolate: options.blame === false ? 'none' : index };
        }
        handled.push(...items.map((i) => i.message.offset));
        return { kind: 'done', outcomes: items.map(() => 'handled'), fastPathHits: new Set() };
      } finally {
        load.running--;
      }
    },
  };
  return { strategy, calls, handled, load };
}

function setup(
  spec: readonly string[],
  strategy: ConsumerStrategy,
  options: { auto?: boolean; concurrency?: number; maxAttempts?: number; types?: string[] } = {},
) {
  const { batch, state } = fakeBatch(records(spec));
  const clock = fakeClock(options.auto ?? true);
  const events = new TypedEmitter<InboxConsumerEvents>();
  const stats = emptyStats();
  const stop = new AbortController();
  const deadLetters: Array<{ offset: string; errors: readonly unknown[]; attempts: number }> = [];
  const ctx: RunContext = {
    strategy,
    policy: new RetryPolicy({
      maxAttempts: options.maxAttempts ?? 5,
      minDelayMs: 100,
      maxDelayMs: 1_000,
      random: () => 0,
      sleep: clock.sleep,
    }),
    dedupKeyOf: (m: ConsumedMessage) => {
      if (m.idempotencyKey === undefined) throw new DedupKeyError(m.offset, 'no idempotency key');
      return m.idempotencyKey;
    },
    deadLetter: async (item, errors, attempts) => {
      deadLetters.push({ offset: item.message.offset, errors, attempts });
      return true;
    },
    concurrency: options.concurrency ?? 1,
    heartbeatIntervalMs: 60_000,
    types: options.types === undefined ? undefined : new Set(options.types),
    events,
    stats,
    logger: silentLogger,
    stopping: stop.signal,
  };
  const commits = new CommitQueue(events, stats);
  const retries: Array<{ offset: string; attempt: number; delayMs: number }> = [];
  events.on('inbox:retry', (e) => retries.push({ offset: e.message.offset, attempt: e.attempt, delayMs: e.delayMs }));
  const run = async () => {
    await new PartitionRun(ctx, batch, commits).run();
    await commits.drain();
  };
  return { run, state, clock, stats, stop, deadLetters, retries, events };
}

/** Lets microtasks run until `check` holds; no timer is involved. */
async function until(check: () => boolean): Promise<void> {
  for (let turn = 0; turn < 10_000; turn++) {
    if (check()) return;
    await Promise.resolve();
  }
  throw new Error(`never true: ${check.toString()}`);
}

afterEach(() => {
  vi.useRealTimers();
});

describe('PartitionRun', () => {
  it('retries a failing message with the policy’s backoff, then handles it and commits past it', async () => {
    const s = scriptedStrategy({ failures: { '0': [new Error('down'), new Error('down')] } });
    const t = setup(['a'], s.strategy);
    await t.run();
    expect(s.calls).toEqual([['0'], ['0'], ['0']]);
    expect(t.clock.waits).toEqual([50, 100]);
    expect(t.retries).toEqual([
      { offset: '0', attempt: 1, delayMs: 50 },
      { offset: '0', attempt: 2, delayMs: 100 },
    ]);
    expect(t.stats).toMatchObject({ handled: 1, retried: 2, deadLettered: 0, abandoned: 0 });
    expect(t.state.commits).toEqual(['1']);
  });

  it('holds back only the failing key while it waits: other keys of its queue finish meanwhile', async () => {
    const s = scriptedStrategy({ groupSize: 32, failures: { '0': [new Error('once')] } });
    const t = setup(['a', 'b', 'a', 'b', 'c'], s.strategy, { auto: false });
    const running = t.run();
    await t.clock.waitBegun();
    await until(() => s.handled.length === 3);
    expect(s.handled).toEqual(['1', '3', '4']);
    // Its own key's later message waits behind it (it ran only in the failed group), and the watermark cannot pass it.
    expect(s.calls.slice(1).flat()).not.toContain('2');
    expect(t.state.commits).toEqual([]);
    t.clock.advance();
    await running;
    // The failed group ran once; then offset 0 alone; the other keys as one group; then the rest of key a.
    expect(s.calls).toEqual([['0', '1', '2', '3', '4'], ['1', '3', '4'], ['0'], ['2']]);
    expect(s.handled).toEqual(['1', '3', '4', '0', '2']);
    expect(t.state.commits.at(-1)).toBe('5');
  });

  it('dead-letters a message after its last attempt, with every failure, and moves on', async () => {
    const s = scriptedStrategy({ failures: { '0': [new Error('1'), new Error('2'), new Error('3')] } });
    const t = setup(['a', 'a'], s.strategy, { maxAttempts: 3 });
    await t.run();
    expect(t.deadLetters).toHaveLength(1);
    expect(t.deadLetters[0]).toMatchObject({ offset: '0', attempts: 3 });
    expect(t.deadLetters[0]?.errors.map((e) => (e as Error).message)).toEqual(['1', '2', '3']);
    expect(t.retries.map((r) => r.attempt)).toEqual([1, 2]);
    expect(s.handled).toEqual(['1']);
    expect(t.state.commits.at(-1)).toBe('2');
  });

  it('dead-letters at once on a failure that is not retriable', async () => {
    const s = scriptedStrategy({ failures: { '0': [new FatalHandlerError('bad order')] } });
    const t = setup(['a'], s.strategy);
    await t.run();
    expect(s.calls).toEqual([['0']]);
    expect(t.clock.waits).toEqual([]);
    expect(t.deadLetters).toMatchObject([{ offset: '0', attempts: 1 }]);
    expect(t.state.commits).toEqual(['1']);
  });

  it('dead-letters a message without a dedup key without attempting it', async () => {
    const s = scriptedStrategy({ groupSize: 32 });
    const t = setup(['a', 'nokey', 'a'], s.strategy);
    await t.run();
    expect(s.calls).toEqual([['0'], ['2']]);
    expect(t.deadLetters).toHaveLength(1);
    expect(t.deadLetters[0]).toMatchObject({ offset: '1', attempts: 0 });
    expect(t.deadLetters[0]?.errors[0]).toBeInstanceOf(DedupKeyError);
    expect(t.state.commits.at(-1)).toBe('3');
  });

  it('retries a group that names no culprit as a whole, then runs each of its messages alone', async () => {
    const poison = Array.from({ length: 6 }, () => new Error('poison'));
    const s = scriptedStrategy({ groupSize: 3, blame: false, failures: { '1': poison } });
    const t = setup(['a', 'b', 'c'], s.strategy, { maxAttempts: 3 });
    await t.run();
    // The group's three attempts, then each message alone with attempts of its own.
    expect(s.calls).toEqual([['0', '1', '2'], ['0', '1', '2'], ['0', '1', '2'], ['0'], ['1'], ['1'], ['1'], ['2']]);
    expect(t.deadLetters).toMatchObject([{ offset: '1', attempts: 3 }]);
    expect(t.retries.map((r) => `${r.offset}:${r.attempt}`)).toEqual(['0:1', '0:2', '1:1', '1:2']);
    expect(s.handled).toEqual(['0', '2']);
    expect(t.state.commits.at(-1)).toBe('3');
  });

  it('once the batch is no longer active, takes no new work and commits nothing more', async () => {
    let revoke: () => void = () => undefined;
    const s = scriptedStrategy({
      gate: async (items) => {
        if (items[0]?.message.offset === '1') revoke();
      },
    });
    const t = setup(['a', 'a', 'a', 'a'], s.strategy);
    revoke = () => {
      t.state.active = false;
    };
    await t.run();
    // Offset 1 was running when the partition went; it finishes, but nothing after it starts.
    expect(s.handled).toEqual(['0', '1']);
    expect(t.state.commits).toEqual(['1']);
    expect(t.stats.abandoned).toBe(2);
  });

  it('a failed heartbeat revokes: the running transaction finishes, nothing else is committed or started', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const open = Promise.withResolvers<void>();
    const started = Promise.withResolvers<void>();
    const s = scriptedStrategy({
      gate: async () => {
        started.resolve();
        await open.promise;
      },
    });
    const t = setup(['a', 'a', 'a'], s.strategy);
    const errors: unknown[] = [];
    t.events.on('inbox:error', (e) => errors.push(e.error));
    t.state.heartbeat = async () => {
      throw new Error('rebalancing');
    };
    const running = t.run();
    await started.promise;
    vi.advanceTimersByTime(60_000);
    await until(() => errors.length === 1);
    open.resolve();
    await running;
    expect(s.handled).toEqual(['0']);
    expect(t.state.commits).toEqual([]);
    expect(t.stats.abandoned).toBe(2);
  });

  it('a stop during a backoff abandons the waiting message: not dead-lettered, not committed', async () => {
    const s = scriptedStrategy({ failures: { '0': [new Error('down')] } });
    const t = setup(['a', 'b'], s.strategy, { auto: false });
    const running = t.run();
    await t.clock.waitBegun();
    await until(() => s.handled.length === 1);
    t.stop.abort();
    await running;
    expect(s.calls).toEqual([['0'], ['1']]);
    expect(t.deadLetters).toEqual([]);
    expect(t.state.commits).toEqual([]);
    expect(t.stats).toMatchObject({ handled: 1, abandoned: 1, deadLettered: 0 });
  });

  it('commits the contiguous watermark in order, never past an unfinished message', async () => {
    const gates = new Map<string, PromiseWithResolvers<void>>();
    const s = scriptedStrategy({
      gate: (items) => {
        const gate = Promise.withResolvers<void>();
        gates.set(items[0]?.message.offset as string, gate);
        return gate.promise;
      },
    });
    const spec = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
    const t = setup(spec, s.strategy, { concurrency: 8 });
    const running = t.run();
    await until(() => gates.size === 8);
    // Finish the messages last to first.
    for (const offset of ['7', '6', '5', '4', '3', '2', '1', '0']) {
      gates.get(offset)?.resolve();
      await until(() => s.handled.includes(offset));
      // Every committed offset lies at or below the first message not handled yet.
      const firstUnfinished = spec.findIndex((_, o) => !s.handled.includes(String(o)));
      for (const commit of t.state.commits)
        expect(Number(commit)).toBeLessThanOrEqual(firstUnfinished === -1 ? spec.length : firstUnfinished);
    }
    await running;
    expect(t.state.commits).toEqual(['8']);
  });

  it('runs at most `concurrency` transactions at once, however many keys wait for their retries', async () => {
    const keys = Array.from({ length: 16 }, (_, i) => `k${i}`);
    const failures = Object.fromEntries(keys.map((_, i) => [String(i), [new Error(`first attempt of ${i}`)]]));
    const s = scriptedStrategy({ failures });
    const t = setup(keys, s.strategy, { concurrency: 2 });
    await t.run();
    expect(s.load.most).toBe(2);
    expect(t.stats).toMatchObject({ handled: 16, retried: 16, deadLettered: 0 });
    expect(t.state.commits.at(-1)).toBe('16');
  });

  it('skips messages of types not asked for: never attempted, counted, and committed past', async () => {
    const s = scriptedStrategy({ groupSize: 32 });
    const t = setup(['a', 'other', 'b', 'other'], s.strategy, { types: ['paid'] });
    const filtered: string[] = [];
    t.events.on('inbox:filtered', (e) => filtered.push(`${e.message.offset}:${e.type}`));
    await t.run();
    expect(s.calls).toEqual([['0', '2']]);
    expect(filtered).toEqual(['1:other', '3:other']);
    expect(t.stats).toMatchObject({ handled: 2, filtered: 2 });
    expect(t.state.commits.at(-1)).toBe('4');
  });
});
