import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { LogFields, Logger, OutgoingRecord } from '@onceflow/core';
import { OptionError, PublishError } from '@onceflow/core';
import type { ThreadedKafkaPublisherOptions } from '@onceflow/kafka';
import { defaultBrokers, KafkaPublisher, ThreadedKafkaPublisher } from '@onceflow/kafka';
import { afterEach, describe, expect, it } from 'vitest';
import { publisherThreadOf } from '../packages/kafka/src/threaded-publisher.ts';
import { uniqueName } from './support/database.ts';
import { createTopic, testKafka } from './support/kafka.ts';

const kafka = testKafka('threaded-publisher-test');
const CONNECTION = { brokers: defaultBrokers(), clientId: 'threaded-publisher-test', retries: 8 } as const;
const open = new Set<ThreadedKafkaPublisher>();

afterEach(async () => {
  await Promise.all([...open].map((p) => p.disconnect()));
  open.clear();
});

function newPublisher(options: ThreadedKafkaPublisherOptions = {}): ThreadedKafkaPublisher {
  const publisher = new ThreadedKafkaPublisher({ ...options, connection: { ...CONNECTION, ...options.connection } });
  open.add(publisher);
  return publisher;
}

interface LogLine {
  level: string;
  fields: LogFields;
  message: string;
}

function capturingLogger(lines: LogLine[]): Logger {
  const at = (level: string) => (fields: LogFields, message: string) => lines.push({ level, fields, message });
  const logger: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: () => logger };
  return logger;
}

/** Sum of the partitions' end offsets: how many records the broker has acknowledged. */
async function endOffsetTotal(topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return (await admin.fetchTopicOffsets(topic)).reduce((sum, o) => sum + Number(o.high), 0);
  } finally {
    await admin.disconnect();
  }
}

interface RawRecord {
  key: string;
  value: Buffer;
  headers: Record<string, Buffer>;
}

/** Reads all `count` records of `topic` as raw bytes, in partition and offset order. */
async function readRaw(topic: string, count: number): Promise<RawRecord[]> {
  const byPartition = new Map<number, RawRecord[]>();
  let read = 0;
  const consumer = kafka.consumer({ groupId: uniqueName('reader'), maxWaitTimeInMs: 100 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`read ${read} of ${count} records from ${topic}`)), 15_000);
      void consumer.run({
        eachBatch: async ({ batch }) => {
          const list = byPartition.get(batch.partition) ?? [];
          byPartition.set(batch.partition, list);
          for (const m of batch.messages) {
            const headers: Record<string, Buffer> = {};
            for (const [name, v] of Object.entries(m.headers ?? {})) headers[name] = Buffer.from((Array.isArray(v) ? v[0] : v) ?? '');
            list.push({ key: m.key?.toString() ?? '', value: m.value ?? Buffer.alloc(0), headers });
            read++;
          }
          if (read >= count) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return [...byPartition.keys()].sort((a, b) => a - b).flatMap((p) => byPartition.get(p) ?? []);
}

/** Groups records by key, keeping their order. */
function byKey<T extends { key: string }>(records: readonly T[]): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const r of records) groups.set(r.key, [...(groups.get(r.key) ?? []), r]);
  return groups;
}

/** Values of every kind the relay hands over: fresh, empty, pooled and slices of one buffer. */
function testRecords(topic: string, total: number, keys: number): OutgoingRecord[] {
  const shared = randomBytes(64 * 1024);
  return Array.from({ length: total }, (_, i) => {
    const kind = i % 4;
    const value =
      i % 97 === 0
        ? Buffer.alloc(0)
        : kind === 0
          ? randomBytes(1 + (i % 700))
          : kind === 1
            ? Buffer.from(`{"seq":${i},"text":"ünïcödé ✓ 🚀"}`) // small: a slice of Node's pool
            : shared.subarray(i % 1_000, (i % 1_000) + 1 + (i % 3_000));
    const headers: Record<string, string> =
      kind === 3 ? {} : { 'onceflow-id': `${topic}-${i}`, seq: String(i), 'en-tête-✉': `välue-${i % 7}-🔑` };
    return { topic, key: `clé-${i % keys}-键`, value, headers };
  });
}

describe('ThreadedKafkaPublisher', () => {
  it('publishes 2,000 records: all arrive once, in key order, with identical bytes', async () => {
    const topic = uniqueName('threaded');
    await createTopic(kafka, topic, 3);
    const records = testRecords(topic, 2_000, 12);
    const publisher = newPublisher();
    await publisher.connect();
    for (let at = 0; at < records.length; at += 250) await publisher.publish(records.slice(at, at + 250));

    expect(await endOffsetTotal(topic)).toBe(records.length); // no failed send, so no retried copies
    const read = await readRaw(topic, records.length);
    expect(read).toHaveLength(records.length);
    const sent = byKey(records);
    const received = byKey(read);
    expect([...received.keys()].sort()).toEqual([...sent.keys()].sort());
    for (const [key, list] of sent) {
      const got = received.get(key) ?? [];
      expect(got.length, key).toBe(list.length);
      list.forEach((r, i) => {
        const g = got[i];
        expect(g?.value.equals(r.value), `${key}[${i}] value`).toBe(true);
        expect(Object.keys(g?.headers ?? {}), `${key}[${i}] header names`).toEqual(Object.keys(r.headers));
        for (const [name, value] of Object.entries(r.headers)) {
          expect(g?.headers[name]?.equals(Buffer.from(value)), `${key}[${i}] header ${name}`).toBe(true);
        }
      });
    }
  });

  it('refuses a record larger than the broker limit as KafkaPublisher does: not retriable, scope record', async () => {
    const topic = uniqueName('threaded_big');
    await createTopic(kafka, topic, 1);
    const big: OutgoingRecord = { topic, key: 'big', value: Buffer.alloc(2_000_000, 1), headers: {} };
    const plain = new KafkaPublisher(kafka);
    await plain.connect();
    const expected = await plain.publish([big]).then(
      () => undefined,
      (error: unknown) => error,
    );
    await plain.disconnect();
    expect(expected).toMatchObject({ retriable: false, scope: 'record', topic });

    const publisher = newPublisher();
    const error = await publisher.publish([big]).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(PublishError);
    expect(error).toMatchObject({ retriable: false, scope: 'record', topic, message: (expected as Error).message });
    // The thread lives on and publishes the next batch.
    await publisher.publish([{ ...big, key: 'small', value: Buffer.from('fine') }]);
    expect(await endOffsetTotal(topic)).toBe(1);
  });

  it('fails the publishes in flight on a dying thread as retriable broker errors, then starts a new thread', async () => {
    const topic = uniqueName('threaded_crash');
    await createTopic(kafka, topic, 1);
    const lines: LogLine[] = [];
    const publisher = newPublisher({ connection: { logger: capturingLogger(lines) } });
    const record: OutgoingRecord = { topic, key: 'k', value: Buffer.from('v'), headers: {} };
    await publisher.publish([record]);

    for (const kill of ['exit', 'error'] as const) {
      const thread = publisherThreadOf(publisher);
      const exited = new Promise((resolve) => thread?.once('exit', resolve));
      const inFlight = [1, 2, 3].map(() =>
        publisher.publish([record]).then(
          () => undefined,
          (e: unknown) => e,
        ),
      );
      // A real death for 'exit'; for 'error', the event Node emits on an uncaught error in the
      // thread (the owner must then end the thread itself).
      if (kill === 'exit') void thread?.terminate();
      else thread?.emit('error', new Error('uncaught in the thread'));
      for (const error of await Promise.all(inFlight)) {
        expect(error, kill).toBeInstanceOf(PublishError);
        expect(error, kill).toMatchObject({ retriable: true, scope: 'broker' });
      }
      expect(publisherThreadOf(publisher)).toBeUndefined();
      // The next call starts a new thread at once, even before the old one's 'exit' arrived,
      // and the old thread's end must not fail it.
      const next = publisher.publish([record]);
      expect(publisherThreadOf(publisher)).not.toBe(thread);
      await exited;
      await next;
    }
    expect(lines.filter((l) => l.level === 'error' && /publisher thread stopped/.test(l.message))).toHaveLength(2);
    // Records of the failed calls may or may not have been written (the relay sends them again).
    expect(await endOffsetTotal(topic)).toBeGreaterThanOrEqual(3);
  });

  it('ends its thread on disconnect; disconnect without a thread does nothing; publish after it starts a new one', async () => {
    const topic = uniqueName('threaded_life');
    await createTopic(kafka, topic, 1);
    const publisher = newPublisher();
    await publisher.disconnect();
    expect(publisherThreadOf(publisher)).toBeUndefined();

    const record: OutgoingRecord = { topic, key: 'k', value: Buffer.from('v'), headers: {} };
    await publisher.connect();
    await publisher.publish([record]);
    const first = publisherThreadOf(publisher);
    expect(first?.threadId).toBeGreaterThan(0);
    await publisher.disconnect();
    expect(first?.threadId).toBe(-1); // exited
    expect(publisherThreadOf(publisher)).toBeUndefined();

    await publisher.publish([record]);
    const second = publisherThreadOf(publisher);
    expect(second?.threadId).toBeGreaterThan(0);
    await publisher.disconnect();
    expect(second?.threadId).toBe(-1);
    expect(await endOffsetTotal(topic)).toBe(2);
  });

  it('does not hold the process open after disconnect, nor while idle', async () => {
    const topic = uniqueName('threaded_exit');
    const index = new URL('../packages/kafka/src/index.ts', import.meta.url).href;
    const script = `
      import { ThreadedKafkaPublisher } from ${JSON.stringify(index)};
      const record = { topic: ${JSON.stringify(topic)}, key: 'k', value: Buffer.from('v'), headers: {} };
      const publisher = new ThreadedKafkaPublisher({ connection: ${JSON.stringify(CONNECTION)} });
      await publisher.connect();
      await publisher.publish([record]);
      await publisher.disconnect();
      await publisher.publish([record]); // a new thread, left connected and idle
      console.log('published');`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        resolve(null);
      }, 15_000);
      child.on('exit', (exitCode) => {
        clearTimeout(timer);
        resolve(exitCode);
      });
    });
    expect({ code, output }).toMatchObject({ code: 0, output: expect.stringContaining('published') });
    expect(await endOffsetTotal(topic)).toBe(2);
  });

  it('forwards the thread log lines to the owner logger and fails a refused connect as a retriable broker error', async () => {
    const lines: LogLine[] = [];
    const publisher = newPublisher({ connection: { brokers: ['127.0.0.1:1'], retries: 0, logger: capturingLogger(lines) } });
    const error = await publisher.connect().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(PublishError);
    expect(error).toMatchObject({ retriable: true, scope: 'broker' });
    // kafkajs's connection error reaches the owner's logger, as a warning (kafkaLogLevel).
    expect(lines.some((l) => l.level === 'warn' && l.fields.broker === '127.0.0.1:1')).toBe(true);
    expect(lines.some((l) => l.level === 'error' && l.fields.broker === '127.0.0.1:1')).toBe(false);
  });

  it('refuses bad options at construction, naming them', () => {
    expect(() => new ThreadedKafkaPublisher({ ackTimeoutMs: 0 })).toThrow(OptionError);
    expect(() => new ThreadedKafkaPublisher({ ackTimeoutMs: 0 })).toThrow(/ackTimeoutMs.*received 0/);
    expect(() => new ThreadedKafkaPublisher({ connection: { brokers: [] } })).toThrow(/Invalid option brokers/);
    const sasl = { mechanism: 'oauthbearer', oauthBearerProvider: async () => ({ value: 'token' }) } as const;
    expect(() => new ThreadedKafkaPublisher({ connection: { sasl } })).toThrow(
      /Invalid option connection\.sasl\.oauthBearerProvider: expected plain data.*received a function$/,
    );
  });
});
