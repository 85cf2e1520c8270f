import type { OutgoingRecord, Publisher, Sleeper } from '@onceflow/core';
import { PublishError, silentLogger, TypedEmitter } from '@onceflow/core';
import { describe, expect, it } from 'vitest';
import type { RelayEvents } from './events.ts';
import type { LaneContext } from './lane.ts';
import { Lane } from './lane.ts';
import { LaneLayout } from './lane-layout.ts';
import { LeaseTable } from './leases.ts';
import type { OutboxStore } from './outbox-store.ts';
import type { PollPacing } from './poll-pacing.ts';
import { AdaptivePolling, BUSY_POLL_MS } from './poll-pacing.ts';
import type { Counters } from './record-outcome.ts';
import { relayRetryPolicies } from './relay-retry.ts';
import type { OutboxRow } from './sql/claim-batch.ts';
import type { Fence } from './sql/fence.ts';
import type { FailedAttempt } from './sql/mark-failed.ts';
import { TopicLimits } from './topic-limits.ts';

/** Monotonic time that moves only when the test lets a wait end. */
class FakeClock {
  #now = 0;
  readonly waits: number[] = [];
  #sleeping: Array<{ ms: number; end: (elapsed: boolean) => void }> = [];

  now = (): number => this.#now;

  advance(ms: number): void {
    this.#now += ms;
  }

  sleep: Sleeper = (ms, signal) =>
    new Promise((resolve) => {
      if (signal?.aborted === true) return resolve(false);
      this.waits.push(ms);
      const entry = {
        ms,
        end: (elapsed: boolean) => {
          this.#sleeping = this.#sleeping.filter((e) => e !== entry);
          resolve(elapsed);
        },
      };
      signal?.addEventListener('abort', () => entry.end(false), { once: true });
      this.#sleeping.push(entry);
    });

  /** Resolves with the wait's length once the lane waits (and runs nothing until told). */
  async asleep(): Promise<number> {
    for (let turns = 0; turns < 10_000; turns++) {
      const entry = this.#sleeping[0];
      if (entry !== undefined) return entry.ms;
      await new Promise((resolve) => setImmediate(resolve));
    }
    throw new Error('the lane never waited');
  }

  /** Lets the current wait run out. */
  elapse(): void {
    const entry = this.#sleeping[0];
    if (entry === undefined) throw new Error('nothing waits');
    this.advance(entry.ms);
    entry.end(true);
  }
}

interface StoredRow extends OutboxRow {
  status: 'pending' | 'published' | 'dead';
  holdsKey: boolean;
  availableAt: number;
}

/** An outbox in memory with the claim's rules: seq order, due rows, held keys, rows in flight skipped. */
class FakeStore implements OutboxStore {
  readonly rows: StoredRow[] = [];
  readonly claims: Array<{ shards: readonly number[]; sending: ReadonlyArray<readonly string[]> | undefined }> = [];
  readonly marked: Array<{ fence: Fence; ids: readonly string[] }> = [];
  readonly failed: FailedAttempt[][] = [];
  readonly released: number[] = [];
  /** Shards whose lease another relay took: fenced writes there are refused. */
  readonly taken = new Set<number>();
  /** Runs inside each claim, as time passes while it runs. */
  onClaim: () => void = () => undefined;
  /** Holds published marks back until opened. */
  marksGate: Promise<void> = Promise.resolve();

  readonly #clock: FakeClock;

  constructor(clock: FakeClock) {
    this.#clock = clock;
  }

  add(shard: number, key: string, attempts = 0): void {
    const seq = this.rows.length + 1;
    const id = `00000000-0000-7000-8000-${String(seq).padStart(12, '0')}`;
    const payload = Buffer.from(`${key}#${seq}`);
    const created_at = '2026-01-01T00:00:00.000Z';
    this.rows.push({
      seq: String(seq),
      id,
      topic: 'orders',
      key,
      shard,
      idempotency_key: id,
      type: null,
      payload,
      headers: {},
      created_at,
      attempts,
      status: 'pending',
      holdsKey: false,
      availableAt: 0,
    });
  }

  status(): string[] {
    return this.rows.map((r) => `${r.seq}:${r.status}:${r.attempts}`);
  }

  async claimBatch(shards: readonly number[], limit: number, sending: ReadonlyArray<readonly string[]> | undefined) {
    this.claims.push({ shards: [...shards], sending: sending?.map((s) => [...s]) });
    this.onClaim();
    const due = this.rows.filter((r) => {
      const i = shards.indexOf(r.shard);
      if (i < 0 || r.status !== 'pending' || r.availableAt > this.#clock.now() || sending?.[i]?.includes(r.seq)) return false;
      return !this.rows.some((h) => h.holdsKey && h.key === r.key && Number(h.seq) < Number(r.seq));
    });
    return due.slice(0, limit).map(({ status, holdsKey, availableAt, ...row }) => ({ ...row }));
  }

  async markPublished(fence: Fence, ids: readonly string[]) {
    await this.marksGate;
    this.marked.push({ fence, ids });
    const held = fence.shards.filter((s) => !this.taken.has(s));
    for (const r of this.rows) if (ids.includes(r.id) && held.includes(r.shard)) r.status = 'published';
    return held;
  }

  async markFailed(fence: Fence, failures: readonly FailedAttempt[]) {
    this.failed.push([...failures]);
    const held = fence.shards.filter((s) => !this.taken.has(s));
    for (const f of failures) {
      const r = this.rows.find((row) => row.id === f.id && held.includes(row.shard));
      if (r === undefined) continue;
      r.attempts++;
      r.status = f.dead ? 'dead' : 'pending';
      r.holdsKey = !f.dead;
      r.availableAt = this.#clock.now() + f.delayMs;
    }
    return held;
  }

  async release(leases: ReadonlyArray<{ shard: number }>) {
    this.released.push(...leases.map((l) => l.shard));
  }
}

/** A broker that refuses what `refuse` says (checked per send), and records what it took. */
function fakePublisher(): Publisher & { sent: string[][]; refuse: (r: OutgoingRecord) => Error | undefined } {
  const publisher = {
    sent: [] as string[][],
    refuse: (_r: OutgoingRecord): Error | undefined => undefined,
    connect: async () => {},
    disconnect: async () => {},
    publish: async (records: readonly OutgoingRecord[]) => {
      for (const r of records) {
        const error = publisher.refuse(r);
        if (error !== undefined) throw error;
      }
      publisher.sent.push(records.map((r) => r.value.toString()));
    },
  };
  return publisher;
}

const brokerDown = () => new PublishError('broker down', { retriable: true, scope: 'broker' });
const recordRefused = (retriable: boolean) => new PublishError('record refused', { retriable, scope: 'record' });

/** One lane over `shards` (leases held from time 0), with fakes for everything it touches. */
function laneWith(options: { shards?: number[]; batchSize?: number; maxAttempts?: number; pacing?: PollPacing } = {}) {
  const clock = new FakeClock();
  const store = new FakeStore(clock);
  const publisher = fakePublisher();
  const leases = new LeaseTable(10_000);
  for (const shard of options.shards ?? [0]) leases.hold({ shard, token: `t${shard}` }, 0);
  const events = new TypedEmitter<RelayEvents>();
  const seen: Array<{ name: string; payload: unknown }> = [];
  for (const name of ['relay:retry', 'relay:dead', 'relay:error', 'relay:lease:lost', 'relay:batch:published'] as const) {
    events.on(name, (payload) => seen.push({ name, payload }));
  }
  const counters: Counters = { published: 0, batches: 0, retried: 0, dead: 0, brokerFailures: 0 };
  const lost: string[] = [];
  const abort = new AbortController();
  const ctx: LaneContext = {
    options: {
      relayId: 'r1',
      publisher,
      batchSize: options.batchSize ?? 100,
      maxBatchBytes: 1_000_000,
      pollIntervalMs: 1_000,
      logger: silentLogger,
    },
    store,
    leases,
    layout: new LaneLayout({ lanes: 1, shrinkAfterMs: 2_000, adaptive: false, wakeAll: () => undefined, changed: () => undefined }),
    events,
    counters,
    topicLimits: new TopicLimits(publisher, undefined, silentLogger),
    retry: relayRetryPolicies(
      { maxAttempts: options.maxAttempts ?? 10, minBackoffMs: 100, maxBackoffMs: 1_000 },
      { sleep: clock.sleep, random: () => 0 },
    ),
    clock,
    ...(options.pacing === undefined ? {} : { pacing: options.pacing }),
    signal: abort.signal,
    leaseLost: (shard, token) => {
      lost.push(`${shard}/${token}`);
      leases.drop(shard);
    },
  };
  let lane: Lane | undefined;
  return {
    clock,
    store,
    publisher,
    leases,
    counters,
    seen,
    lost,
    start: () => {
      lane = new Lane(ctx, 0);
    },
    stop: async () => {
      abort.abort();
      await lane?.done;
    },
  };
}

describe('Lane', () => {
  it('with adaptive polling (MySQL) reads again at once after rows and waits twice as long after each empty read', async () => {
    const t = laneWith({ pacing: new AdaptivePolling(1_000) });
    t.store.add(0, 'a');
    t.start();
    expect(await t.clock.asleep()).toBe(BUSY_POLL_MS);
    expect(t.publisher.sent).toEqual([['a#1']]);
    const waits: number[] = [];
    for (let i = 0; i < 3; i++) {
      t.clock.elapse();
      waits.push(await t.clock.asleep());
    }
    expect(waits).toEqual([10, 20, 40]);
    t.store.add(0, 'b');
    t.clock.elapse();
    expect(await t.clock.asleep()).toBe(BUSY_POLL_MS);
    expect(t.publisher.sent).toEqual([['a#1'], ['b#2']]);
    await t.stop();
  });

  it('sends the next batch while the last clean one is marked; that claim skips exactly the rows in flight', async () => {
    const t = laneWith({ batchSize: 2 });
    for (const key of ['a', 'b', 'a', 'c']) t.store.add(0, key);
    let openMarks = () => {};
    t.store.marksGate = new Promise((resolve) => {
      openMarks = resolve;
    });
    t.start();
    // The lane waits for the first batch's marks only after it has sent the second batch.
    while (t.publisher.sent.length < 2) await new Promise((resolve) => setImmediate(resolve));
    expect(t.store.claims[1]?.sending).toEqual([['1', '2']]);
    expect(t.publisher.sent).toEqual([
      ['a#1', 'b#2'],
      ['a#3', 'c#4'],
    ]);
    expect(t.store.marked).toEqual([]);
    openMarks();
    expect(await t.clock.asleep()).toBe(1_000);
    // One batch's marks at a time, in order; the claim after the second batch skips its rows.
    expect(t.store.marked.map((m) => m.ids.length)).toEqual([2, 2]);
    expect(t.store.claims.map((c) => c.sending)).toEqual([undefined, [['1', '2']], [['3', '4']]]);
    expect(t.store.status()).toEqual(['1:published:0', '2:published:0', '3:published:0', '4:published:0']);
    expect(t.counters).toMatchObject({ published: 4, batches: 2 });
    await t.stop();
  });

  it('retries a broker outage after the backoff without charging any message, counting brokerFailures', async () => {
    const t = laneWith();
    t.store.add(0, 'a');
    let outages = 2;
    t.publisher.refuse = () => (outages-- > 0 ? brokerDown() : undefined);
    t.start();
    expect(await t.clock.asleep()).toBe(50);
    t.clock.elapse();
    expect(await t.clock.asleep()).toBe(100);
    t.clock.elapse();
    expect(await t.clock.asleep()).toBe(1_000);
    expect(t.store.status()).toEqual(['1:published:0']);
    expect(t.store.failed).toEqual([]);
    expect(t.counters).toMatchObject({ brokerFailures: 2, retried: 0, dead: 0, published: 1 });
    const retries = t.seen.filter((e) => e.name === 'relay:retry').map((e) => e.payload);
    expect(retries).toMatchObject([
      { scope: 'broker', shards: [0], attempt: 1, delayMs: 50 },
      { scope: 'broker', shards: [0], attempt: 2, delayMs: 100 },
    ]);
    await t.stop();
  });

  it("charges a record-level failure an attempt with the policy's delay, and parks it when spent or not retriable", async () => {
    const t = laneWith({ maxAttempts: 4 });
    t.store.add(0, 'flaky', 2);
    t.store.add(0, 'good');
    t.store.add(0, 'poison');
    t.publisher.refuse = (r) => (r.key === 'flaky' ? recordRefused(true) : r.key === 'poison' ? recordRefused(false) : undefined);
    t.start();
    expect(await t.clock.asleep()).toBe(1_000);
    // Attempt 3 of the flaky row waits delayMs(3) = half of 100 * 2^2; the poison row is dead at once.
    expect(t.store.failed[0]).toMatchObject([
      { id: t.store.rows[0]?.id, delayMs: 200, dead: false, entry: { attempt: 3 } },
      { id: t.store.rows[2]?.id, dead: true, entry: { attempt: 1 } },
    ]);
    expect(t.store.status()).toEqual(['1:pending:3', '2:published:0', '3:dead:1']);
    t.clock.elapse();
    expect(await t.clock.asleep()).toBe(1_000);
    // Attempt 4 of 4: dead.
    expect(t.store.failed[1]).toMatchObject([{ dead: true, entry: { attempt: 4 } }]);
    expect(t.store.status()[0]).toBe('1:dead:4');
    expect(t.counters).toMatchObject({ retried: 1, dead: 2, published: 1, brokerFailures: 0 });
    expect(t.seen.filter((e) => e.name === 'relay:dead').map((e) => e.payload)).toMatchObject([{ attempts: 1 }, { attempts: 4 }]);
    await t.stop();
  });

  it('reports a shard whose fenced mark was refused as lost and counts none of its rows', async () => {
    const t = laneWith({ shards: [0, 1] });
    t.store.add(0, 'a');
    t.store.add(1, 'b');
    t.store.add(0, 'c');
    t.store.add(1, 'bad');
    t.store.taken.add(1);
    t.publisher.refuse = (r) => (r.key === 'bad' ? recordRefused(true) : undefined);
    t.start();
    expect(await t.clock.asleep()).toBe(1_000);
    expect(t.lost).toContain('1/t1');
    expect(t.leases.shards()).toEqual([0]);
    expect(t.store.status()).toEqual(['1:published:0', '2:pending:0', '3:published:0', '4:pending:0']);
    expect(t.counters).toMatchObject({ published: 2, batches: 1, retried: 0, dead: 0 });
    expect(t.seen.find((e) => e.name === 'relay:batch:published')?.payload).toMatchObject({ shards: [0], count: 2 });
    await t.stop();
  });

  it('ends a broker backoff at once when stopped, leaving the batch pending', async () => {
    const t = laneWith();
    t.store.add(0, 'a');
    t.publisher.refuse = () => brokerDown();
    t.start();
    expect(await t.clock.asleep()).toBe(50);
    await t.stop();
    expect(t.store.status()).toEqual(['1:pending:0']);
    expect(t.store.failed).toEqual([]);
  });

  it('leaves the rows of a shard whose lease lapsed locally between claim and send pending', async () => {
    const t = laneWith({ shards: [0] });
    // Shard 1's lease is valid until 10 ms on the lane's clock; the claim takes 20.
    t.leases.hold({ shard: 1, token: 't1' }, 10 - 8_000);
    t.store.onClaim = () => t.clock.advance(20);
    t.store.add(0, 'a');
    t.store.add(1, 'b');
    t.store.add(0, 'c');
    t.start();
    expect(await t.clock.asleep()).toBe(1_000);
    expect(t.store.claims[0]?.shards).toEqual([0, 1]);
    expect(t.publisher.sent).toEqual([['a#1', 'c#3']]);
    expect(t.store.marked[0]?.fence.shards).toEqual([0]);
    expect(t.store.status()).toEqual(['1:published:0', '2:pending:0', '3:published:0']);
    // Nor is the lapsed shard claimed again until its lease is renewed.
    t.clock.elapse();
    expect(await t.clock.asleep()).toBe(1_000);
    expect(t.store.claims[1]?.shards).toEqual([0]);
    await t.stop();
  });

  it('reports a database failure and waits the backoff before claiming again', async () => {
    const t = laneWith();
    t.store.add(0, 'a');
    const claim = t.store.claimBatch.bind(t.store);
    let failures = 1;
    t.store.claimBatch = async (...args) => {
      if (failures-- > 0) throw new Error('connection terminated');
      return claim(...args);
    };
    t.start();
    expect(await t.clock.asleep()).toBe(50);
    expect(t.seen.filter((e) => e.name === 'relay:error')).toHaveLength(1);
    t.clock.elapse();
    expect(await t.clock.asleep()).toBe(1_000);
    expect(t.store.status()).toEqual(['1:published:0']);
    await t.stop();
  });

  it('hands a draining shard over once its marks are written', async () => {
    const t = laneWith({ shards: [0, 1] });
    t.store.add(0, 'a');
    t.start();
    expect(await t.clock.asleep()).toBe(1_000);
    t.leases.drain(1);
    t.clock.elapse();
    expect(await t.clock.asleep()).toBe(1_000);
    expect(t.store.released).toEqual([1]);
    expect(t.leases.shards()).toEqual([0]);
    expect(t.seen.find((e) => e.name === 'relay:lease:lost')?.payload).toMatchObject({ shard: 1, reason: 'released' });
    await t.stop();
  });
});
