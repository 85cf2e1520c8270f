import type { Subscriber } from '@onceflow/core';
import knexFactory from 'knex';
import { afterAll, describe, expect, it } from 'vitest';
import { InboxConsumer } from './inbox-consumer.ts';

// Never queried: the schema check is off and the fake subscriber delivers nothing.
const knex = knexFactory({ client: 'pg', connection: 'postgres://nobody@127.0.0.1:1/none' });
afterAll(() => knex.destroy());

describe('InboxConsumer.stop', () => {
  it('resolves after stopTimeoutMs when leaving the group hangs (a coordinator that is down)', async () => {
    let stopCalled = false;
    const hanging: Subscriber = {
      start: async () => undefined,
      stop: () => {
        stopCalled = true;
        return new Promise<void>(() => undefined);
      },
    };
    const consumer = new InboxConsumer({
      knex,
      consumerName: 'stop-test',
      subscriber: hanging,
      checkSchema: false,
      stopTimeoutMs: 200,
      handler: async () => undefined,
    });
    await consumer.start();
    const started = performance.now();
    await consumer.stop();
    const tookMs = performance.now() - started;
    expect(stopCalled).toBe(true);
    expect(tookMs).toBeGreaterThanOrEqual(150);
    expect(tookMs).toBeLessThan(5_000);
  });

  it('waits for a subscriber that stops in time, and passes its failure on', async () => {
    const failing: Subscriber = {
      start: async () => undefined,
      stop: async () => {
        throw new Error('leave failed');
      },
    };
    const consumer = new InboxConsumer({
      knex,
      consumerName: 'stop-test',
      subscriber: failing,
      checkSchema: false,
      handler: async () => undefined,
    });
    await consumer.start();
    await expect(consumer.stop()).rejects.toThrow('leave failed');
  });
});
