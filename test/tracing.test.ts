import { migrate } from '@onceflow/core';
import { KafkaPublisher } from '@onceflow/kafka';
import { OutboxWriter } from '@onceflow/producer';
import { Relay } from '@onceflow/relay';
import type { SpanContext } from '@opentelemetry/api';
import { context, propagation, SpanKind, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startConsumer, waitFor } from './support/consumer-helpers.ts';
import type { TestDatabase } from './support/database.ts';
import { createTestDatabase, uniqueName } from './support/database.ts';
import { createTopic, testKafka } from './support/kafka.ts';

let db: TestDatabase;
const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const kafka = testKafka('onceflow-tracing-test');

beforeAll(async () => {
  provider.register();
  db = await createTestDatabase(8);
});
afterAll(async () => {
  await provider.shutdown();
  trace.disable();
  context.disable();
  propagation.disable();
  await db?.drop();
});

/** The parent span id of a finished span (the SDK's field name changed across versions). */
function parentOf(span: object): string | undefined {
  const s = span as { parentSpanContext?: SpanContext; parentSpanId?: string };
  return s.parentSpanContext?.spanId ?? s.parentSpanId;
}

describe('OpenTelemetry across the hop: enqueue → relay → Kafka → handler', () => {
  it('continues the trace active at enqueue around the handler, links the publish to it, and marks duplicates', async () => {
    const schema = uniqueName('trc');
    const topic = uniqueName('traced.orders');
    await migrate(db.knex, { schema });
    await db.knex.raw(`create table "${schema}".effects (key text not null)`);
    await createTopic(kafka, topic, 1);

    // The application's own trace, active while it enqueues.
    const outbox = new OutboxWriter({ knex: db.knex, schema });
    const checkout = await trace.getTracer('shop').startActiveSpan('checkout', async (span) => {
      await db.knex.transaction((trx) => outbox.enqueue(trx, { topic, key: 'ORD-1', idempotencyKey: 'pay-1', payload: { n: 1 } }));
      span.end();
      return span.spanContext();
    });

    let inHandler: SpanContext | undefined;
    const relay = new Relay({ knex: db.knex, schema, publisher: new KafkaPublisher(kafka), leaseMs: 3_000 });
    const consumer = await startConsumer(kafka, uniqueName('traced'), [topic], {
      knex: db.knex,
      schema,
      consumerName: 'rewards',
      handler: async (message, trx) => {
        inHandler = trace.getActiveSpan()?.spanContext();
        // A span the handler starts is a child of the process span.
        await trace.getTracer('rewards').startActiveSpan('grant-reward', async (span) => {
          await trx(`${schema}.effects`).insert({ key: message.key });
          span.end();
        });
      },
    });
    await relay.start();
    try {
      await waitFor('handled', () => consumer.stats().handled === 1);
      await db.knex.raw(`update "${schema}".outbox set status = 'pending', published_at = null`);
      await waitFor('the duplicate', () => consumer.stats().duplicates === 1);
    } finally {
      await consumer.stop();
      await relay.stop();
    }

    const spans = exporter.getFinishedSpans();
    const process = spans.filter((s) => s.name === `process ${topic}`);
    const handled = process.find((s) => s.attributes['onceflow.inbox.outcome'] === 'handled');
    const duplicate = process.find((s) => s.attributes['onceflow.inbox.outcome'] === 'duplicate');
    expect(handled).toBeDefined();
    expect(duplicate).toBeDefined();

    // The handler ran inside the process span, a child of the producer's context at enqueue.
    expect(handled?.spanContext().traceId).toBe(checkout.traceId);
    expect(parentOf(handled as object)).toBe(checkout.spanId);
    expect(handled?.kind).toBe(SpanKind.CONSUMER);
    expect(inHandler?.spanId).toBe(handled?.spanContext().spanId);
    expect(handled?.attributes).toMatchObject({
      'messaging.system': 'kafka',
      'messaging.operation.type': 'process',
      'messaging.destination.name': topic,
      'messaging.consumer.group.name': 'rewards',
      'messaging.destination.partition.id': '0',
    });
    const grant = spans.find((s) => s.name === 'grant-reward');
    expect(parentOf(grant as object)).toBe(handled?.spanContext().spanId);

    // The skipped copy is in the same trace, marked, with an event.
    expect(duplicate?.spanContext().traceId).toBe(checkout.traceId);
    expect(duplicate?.events.map((e) => e.name)).toContain('onceflow.duplicate');

    // The relay's publishes are PRODUCER spans linked to the producer's context.
    const sends = spans.filter((s) => s.name === `send ${topic}`);
    expect(sends.length).toBeGreaterThanOrEqual(2);
    for (const send of sends) {
      expect(send.kind).toBe(SpanKind.PRODUCER);
      expect(send.links.map((l) => l.context.spanId)).toContain(checkout.spanId);
      expect(send.attributes).toMatchObject({
        'messaging.system': 'kafka',
        'messaging.operation.type': 'send',
        'messaging.batch.message_count': 1,
      });
    }
  });

  it('runs a batch handler inside one process span linked to every message producer context', async () => {
    const schema = uniqueName('trb');
    const topic = uniqueName('traced.batch');
    await migrate(db.knex, { schema });
    await createTopic(kafka, topic, 1);
    const outbox = new OutboxWriter({ knex: db.knex, schema });
    const producers: SpanContext[] = [];
    for (let i = 0; i < 3; i++) {
      producers.push(
        await trace.getTracer('shop').startActiveSpan(`checkout-${i}`, async (span) => {
          await db.knex.transaction((trx) => outbox.enqueue(trx, { topic, key: `k${i}`, payload: { i } }));
          span.end();
          return span.spanContext();
        }),
      );
    }
    // Everything is in the outbox before the relay starts, so one fetch brings all three.
    const relay = new Relay({ knex: db.knex, schema, publisher: new KafkaPublisher(kafka), leaseMs: 3_000 });
    await relay.start();
    let handled = 0;
    const consumer = await startConsumer(kafka, uniqueName('traced-batch'), [topic], {
      knex: db.knex,
      schema,
      consumerName: 'batcher',
      batchHandler: async (messages) => {
        handled += messages.length;
      },
    });
    try {
      await waitFor('three handled', () => handled === 3);
    } finally {
      await consumer.stop();
      await relay.stop();
    }
    const batchSpans = exporter.getFinishedSpans().filter((s) => s.name === `process ${topic}`);
    const linked = new Set(batchSpans.flatMap((s) => s.links.map((l) => l.context.spanId)));
    for (const p of producers) expect(linked).toContain(p.spanId);
    expect(batchSpans.reduce((n, s) => n + Number(s.attributes['messaging.batch.message_count']), 0)).toBe(3);
    for (const span of batchSpans) expect(span.attributes['messaging.consumer.group.name']).toBe('batcher');
  });
});
