import { HeaderNames } from '@onceflow/core';
import { describe, expect, it } from 'vitest';
import { toConsumedMessage } from '../consumed-message.ts';
import { InboxRowWait } from '../errors.ts';
import type { GroupResult, InboxTransactions } from '../inbox.ts';
import { GroupFailure } from '../inbox.ts';
import type { Item } from '../run-context.ts';
import { BatchStrategy } from './batch-strategy.ts';
import { SideEffectStrategy } from './side-effect-strategy.ts';
import { TransactionalStrategy } from './transactional-strategy.ts';

function item(offset: number, key: string, keyed = true): Item {
  const message = toConsumedMessage({
    topic: 't',
    partition: 0,
    offset: String(offset),
    key,
    value: null,
    headers: { [HeaderNames.idempotencyKey]: `d${offset}` },
    timestamp: '0',
  });
  return { message, dedupKey: keyed ? `d${offset}` : undefined, keyError: keyed ? undefined : new Error('no key') };
}

/** An inbox whose next transaction fails with `failure`, or succeeds. */
function fakeInbox(failure?: unknown): InboxTransactions & { calls: string[][] } {
  const calls: string[][] = [];
  const run = async (messages: readonly { offset: string }[]): Promise<GroupResult> => {
    calls.push(messages.map((m) => m.offset));
    if (failure !== undefined) throw failure;
    return { outcomes: messages.map(() => 'handled'), fastPathHits: new Set() };
  };
  return { calls, handleGroup: run, handleBatch: run };
}

const handler = async () => undefined;

describe('TransactionalStrategy', () => {
  it('lays out one queue per transaction’s worth of messages, up to the concurrency', () => {
    const strategy = new TransactionalStrategy({ inbox: fakeInbox(), handler, maxMessagesPerTransaction: 2 });
    const items = [0, 1, 2, 3, 4].map((i) => item(i, `k${i}`));
    const layout = strategy.layout(items, 8);
    expect(layout.queues.length).toBeLessThanOrEqual(3);
    expect(layout.queues.flat()).toHaveLength(5);
    expect(layout).toMatchObject({ groupSize: 2, splitOnWait: true });
    expect(strategy.layout(items, 1).queues).toEqual([items]);
  });

  it('names the message whose handler threw, and isolates each one when the database failed', async () => {
    const cause = new Error('handler threw');
    const items = [item(0, 'a'), item(1, 'b')];
    const named = await new TransactionalStrategy({
      inbox: fakeInbox(new GroupFailure(1, cause)),
      handler,
      maxMessagesPerTransaction: 2,
    }).attempt(items);
    expect(named).toEqual({ kind: 'failed', error: cause, isolate: 1 });
    const database = await new TransactionalStrategy({
      inbox: fakeInbox(new GroupFailure(-1, cause)),
      handler,
      maxMessagesPerTransaction: 2,
    }).attempt(items);
    expect(database).toEqual({ kind: 'failed', error: cause, isolate: 'each' });
    const done = await new TransactionalStrategy({ inbox: fakeInbox(), handler, maxMessagesPerTransaction: 2 }).attempt(items);
    expect(done).toMatchObject({ kind: 'done', outcomes: ['handled', 'handled'] });
  });

  it('answers busy, not failed, when the inbox rows were locked by another transaction (MySQL), in both modes', async () => {
    const items = [item(0, 'a'), item(1, 'b')];
    const wait = new GroupFailure(-1, new InboxRowWait(Object.assign(new Error('Lock wait timeout exceeded'), { errno: 1205 })));
    for (const strategy of [
      new TransactionalStrategy({ inbox: fakeInbox(wait), handler, maxMessagesPerTransaction: 2 }),
      new BatchStrategy({ inbox: fakeInbox(wait), handler, maxBatchSize: 2 }),
    ]) {
      const result = await strategy.attempt(items);
      expect(result.kind).toBe('busy');
      expect((result as { retryInMs: number }).retryInMs).toBeGreaterThanOrEqual(100);
      expect((result as { retryInMs: number }).retryInMs).toBeLessThan(200);
    }
  });

  it('GroupFailure is an Onceflow error with a stable code, as retriable as its cause', () => {
    const failure = new GroupFailure(0, new Error('boom'));
    expect(failure.code).toBe('ONCEFLOW_TRANSACTION');
    expect(failure.retriable).toBe(true);
    expect(failure.name).toBe('GroupFailure');
  });
});

describe('BatchStrategy', () => {
  it('puts messages without a dedup key first in its one queue, and blames no single message', async () => {
    const cause = new Error('batch handler threw');
    const strategy = new BatchStrategy({ inbox: fakeInbox(new GroupFailure(0, cause)), handler, maxBatchSize: 100 });
    const items = [item(0, 'a'), item(1, 'b', false), item(2, 'c')];
    const layout = strategy.layout(items);
    expect(layout.queues.map((q) => q.map((i) => i.message.offset))).toEqual([['1', '0', '2']]);
    expect(layout).toMatchObject({ groupSize: 100, splitOnWait: false });
    expect(await strategy.attempt([item(0, 'a'), item(2, 'c')])).toEqual({ kind: 'failed', error: cause, isolate: 'none' });
  });
});

describe('SideEffectStrategy', () => {
  it('answers busy with a short wait within the lease, and returns the handler’s failure', async () => {
    const outcomes: Array<'busy' | 'handled' | Error> = ['busy', 'handled', new Error('HTTP 503')];
    const effects = {
      run: async () => {
        const next = outcomes.shift();
        if (next instanceof Error) throw next;
        return next ?? 'duplicate';
      },
    };
    const strategy = new SideEffectStrategy({ effects, handler, leaseMs: 150, random: () => 0.75 });
    expect(strategy.layout([item(0, 'a'), item(1, 'b')], 8)).toMatchObject({ groupSize: 1, splitOnWait: true });
    expect(await strategy.attempt([item(0, 'a')])).toEqual({ kind: 'busy', retryInMs: 150 });
    expect(await strategy.attempt([item(0, 'a')])).toMatchObject({ kind: 'done', outcomes: ['handled'] });
    expect(await strategy.attempt([item(0, 'a')])).toMatchObject({ kind: 'failed', isolate: 'each' });
  });
});
