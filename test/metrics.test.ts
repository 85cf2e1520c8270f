import { migrate } from '@onceflow/core';
import { KafkaPublisher } from '@onceflow/kafka';
import { MetricNames, OnceflowMetrics } from '@onceflow/metrics';
import { OutboxWriter } from '@onceflow/producer';
import { Relay } from '@onceflow/relay';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { limitStatementTime } from '../packages/metrics/src/statement-timeout.ts';
import { extraSchemas, tableOf } from './support/cli.ts';
import { startConsumer, waitFor } from './support/consumer-helpers.ts';
import type { TestDatabase } from './support/database.ts';
import { connect, createTestDatabase, uniqueName } from './support/database.ts';
import { createTopic, testKafka } from './support/kafka.ts';
import { connectMariadb } from './support/mariadb.ts';
import { parseExposition, sampleValue } from './support/prometheus.ts';

let db: TestDatabase;

/** The observation count of histogram `name` for the series with `labels`. */
async function histogramCount(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const values = (await registry.getSingleMetric(name)?.get())?.values ?? [];
  const match = values.find(
    (v) =>
      (v as { metricName?: string }).metricName === `${name}_count` &&
      Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want),
  );
  return match?.value ?? 0;
}
const kafka = testKafka('onceflow-metrics-test');

beforeAll(async () => {
  db = await createTestDatabase(10);
});
afterAll(async () => {
  await db?.drop();
});
// Onceflow schemas of their own: on MariaDB, databases beside the test database.
const schemaName = extraSchemas(() => db);

describe('Prometheus metrics on the user registry', () => {
  it('count what flows through the relay and the consumer, with SQL gauges from one cached query', async () => {
    const schema = schemaName('met');
    const paid = uniqueName('metrics.paid');
    const refunded = uniqueName('metrics.refunded');
    await migrate(db.knex, { schema });
    await db.knex.raw(`create table ${tableOf(db, 'effects', schema)} (${db.dialect === 'mysql' ? '`key`' : 'key'} text not null)`);
    await createTopic(kafka, paid, 2);
    await createTopic(kafka, refunded, 1);

    const outbox = new OutboxWriter({ knex: db.knex, schema });
    await db.knex.transaction(async (trx) => {
      for (let i = 0; i < 12; i++) await outbox.enqueue(trx, { topic: paid, key: `k${i % 4}`, payload: { i } });
      for (let i = 0; i < 5; i++) await outbox.enqueue(trx, { topic: refunded, key: `k${i}`, payload: { i } });
    });

    const registry = new Registry();
    const metrics = new OnceflowMetrics({ registry });
    let statusQueries = 0;
    const countStatus = (q: { sql: string }) => {
      if (/group by topic/.test(q.sql)) statusQueries++;
    };
    db.knex.on('query', countStatus);
    metrics.observeOutbox(db.knex, { schema, cacheMs: 60_000 });

    // Ten scrapers at once before the relay runs: the backlog is there, and one query served all.
    const scrapes = await Promise.all(Array.from({ length: 10 }, () => registry.metrics()));
    db.knex.off('query', countStatus);
    expect(statusQueries).toBe(1);
    const before = parseExposition(scrapes[0] as string);
    expect(sampleValue(before, MetricNames.outboxBacklog, { topic: paid })).toBe(12);
    expect(sampleValue(before, MetricNames.outboxBacklog, { topic: refunded })).toBe(5);
    expect(sampleValue(before, MetricNames.outboxOldestPendingAge, { topic: paid })).toBeGreaterThanOrEqual(0);
    expect(new Set(scrapes).size).toBe(1);

    const relay = new Relay({ knex: db.knex, schema, publisher: new KafkaPublisher(kafka), leaseMs: 3_000 });
    metrics.observeRelay(relay);
    const consumer = await startConsumer(kafka, uniqueName('metrics-group'), [paid, refunded], {
      knex: db.knex,
      schema,
      consumerName: 'rewards',
      handler: async (message, trx) => {
        await trx(`${schema}.effects`).insert({ key: message.key });
      },
    });
    metrics.observeConsumer(consumer);
    await relay.start();
    try {
      await waitFor('17 effects', async () => consumer.stats().handled === 17);
      // A relay that died before marking publishes everything again: the inbox skips it all.
      await db.knex.raw(`update ${tableOf(db, 'outbox', schema)} set status = 'pending', published_at = null`);
      await waitFor('17 duplicates', async () => consumer.stats().duplicates === 17);
      await waitFor('every offset committed', async () => {
        const m = parseExposition(await registry.metrics());
        const lag = m.get(MetricNames.consumerCommitLag)?.samples ?? [];
        return lag.length === 3 && lag.every((s) => s.value === 0);
      });

      const after = parseExposition(await registry.metrics());
      expect(sampleValue(after, MetricNames.relayPublished, { topic: paid })).toBe(24);
      expect(sampleValue(after, MetricNames.relayPublished, { topic: refunded })).toBe(10);
      expect(sampleValue(after, MetricNames.consumerHandled, { consumer: 'rewards', topic: paid })).toBe(12);
      expect(sampleValue(after, MetricNames.consumerHandled, { consumer: 'rewards', topic: refunded })).toBe(5);
      expect(sampleValue(after, MetricNames.consumerDuplicates, { consumer: 'rewards', topic: paid })).toBe(12);
      expect(sampleValue(after, MetricNames.consumerDuplicates, { consumer: 'rewards', topic: refunded })).toBe(5);
      // The text parser drops a labelled histogram's labels, so histograms are read from the registry.
      expect(await histogramCount(registry, MetricNames.consumerHandlerDuration, { consumer: 'rewards', topic: paid })).toBe(12);
      expect(await histogramCount(registry, MetricNames.relayCommitToAck)).toBe(34);
      expect(await histogramCount(registry, MetricNames.relayBatchDuration)).toBeGreaterThanOrEqual(2);
      expect(after.get(MetricNames.consumerHandlerDuration)?.type).toBe('HISTOGRAM');
      expect(sampleValue(after, MetricNames.relayShardsHeld)).toBe(relay.stats().shards.length);
      expect(relay.stats().shards.length).toBeGreaterThan(0);
      // Labels stay bounded: topic, consumer, partition, kind; never a key or an id.
      for (const [name, family] of after) {
        if (!name.startsWith('onceflow_')) continue;
        for (const s of family.samples) {
          for (const label of Object.keys(s.labels)) expect(['topic', 'consumer', 'partition', 'kind', 'le']).toContain(label);
        }
      }
    } finally {
      await consumer.stop();
      await relay.stop();
    }
  });

  it("bounds the gauges' query with its dialect's statement timeout, and hands the connection back without it", async () => {
    // One connection, so the second transaction runs where the first set its timeout.
    const single = db.dialect === 'mysql' ? connectMariadb(db.name, 1) : connect(db.url, 1);
    const sleep = db.dialect === 'mysql' ? 'select sleep(?) as slept' : 'select pg_sleep(?) as slept';
    try {
      const started = Date.now();
      await expect(
        single.transaction(async (trx) => {
          const undo = await limitStatementTime(trx, 200);
          try {
            // MariaDB ends a timed-out sleep() with an error; MySQL 8's sleep() returns 1 instead.
            const [row] = db.dialect === 'mysql' ? ((await trx.raw(sleep, [3])) as [Array<{ slept: number }>])[0] : [];
            if (row?.slept === 1) throw new Error('interrupted');
            if (db.dialect !== 'mysql') await trx.raw(sleep, [3]);
          } finally {
            await undo();
          }
        }),
      ).rejects.toThrow();
      expect(Date.now() - started).toBeLessThan(2_500);
      // The next transaction on the same connection may take longer than 200 ms.
      await single.transaction(async (trx) => {
        await trx.raw(sleep, [0.5]);
      });
    } finally {
      await single.destroy();
    }
  });

  it('refuses a registry that is not one, naming the option', () => {
    expect(() => new OnceflowMetrics({ registry: {} as Registry })).toThrow(/Invalid option registry/);
  });
});
