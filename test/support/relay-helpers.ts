import type { OutgoingRecord, Publisher } from '@onceflow/core';
import { PublishError } from '@onceflow/core';
import type { Kafka } from 'kafkajs';

export { waitFor } from './wait.ts';

/**
 * A publisher around a real one that refuses records whose key `failing` accepts, with a
 * retriable record-level error, as a broker refusing one record would.
 */
export class FailingPublisher implements Publisher {
  readonly inner: Publisher;
  failing: (record: OutgoingRecord) => boolean;
  /** Records refused so far. */
  refused = 0;

  constructor(inner: Publisher, failing: (record: OutgoingRecord) => boolean) {
    this.inner = inner;
    this.failing = failing;
  }

  connect(): Promise<void> {
    return this.inner.connect();
  }

  async publish(records: readonly OutgoingRecord[]): Promise<void> {
    const bad = records.find((r) => this.failing(r));
    if (bad !== undefined) {
      this.refused++;
      throw new PublishError(`test broker refuses key ${bad.key}`, { retriable: true, scope: 'record', topic: bad.topic });
    }
    await this.inner.publish(records);
  }

  disconnect(): Promise<void> {
    return this.inner.disconnect();
  }
}

/** A record read back from Kafka. */
export interface KafkaRecord {
  partition: number;
  offset: bigint;
  key: string;
  value: string;
  headers: Record<string, string>;
  timestamp: number;
}

/**
 * Reads every record of `topic` up to the current end of each partition, in partition and
 * offset order (one key lives in one partition, so a key's records come in log order).
 */
export async function readAll(kafka: Kafka, topic: string, timeoutMs = 60_000): Promise<KafkaRecord[]> {
  const admin = kafka.admin();
  await admin.connect();
  let ends: Map<number, bigint>;
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    ends = new Map(offsets.map((o) => [o.partition, BigInt(o.high)]));
  } finally {
    await admin.disconnect();
  }
  const total = [...ends.values()].reduce((a, b) => a + b, 0n);
  const records: KafkaRecord[] = [];
  if (total === 0n) return records;
  const consumer = kafka.consumer({ groupId: `reader_${topic}_${Date.now()}_${Math.random()}`, maxWaitTimeInMs: 100 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    const reached = new Set<number>();
    for (const [p, end] of ends) if (end === 0n) reached.add(p);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`read ${records.length} records of ${total} from ${topic} in ${timeoutMs} ms`)),
        timeoutMs,
      );
      void consumer.run({
        eachBatch: async ({ batch }) => {
          for (const m of batch.messages) {
            const offset = BigInt(m.offset);
            if (offset >= (ends.get(batch.partition) ?? 0n)) continue;
            const headers: Record<string, string> = {};
            for (const [k, v] of Object.entries(m.headers ?? {})) headers[k] = String(Array.isArray(v) ? v[0] : v);
            records.push({
              partition: batch.partition,
              offset,
              key: m.key?.toString() ?? '',
              value: m.value?.toString() ?? '',
              headers,
              timestamp: Number(m.timestamp),
            });
            if (offset + 1n >= (ends.get(batch.partition) ?? 0n)) reached.add(batch.partition);
          }
          if (reached.size === ends.size) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return records.sort((a, b) => a.partition - b.partition || (a.offset < b.offset ? -1 : a.offset > b.offset ? 1 : 0));
}

/** Groups records by key, keeping log order, after dropping repeats of ids already seen. */
export function firstCopiesByKey(records: readonly KafkaRecord[]): { byKey: Map<string, KafkaRecord[]>; repeats: number } {
  const seen = new Set<string>();
  const byKey = new Map<string, KafkaRecord[]>();
  let repeats = 0;
  for (const r of records) {
    const id = r.headers['onceflow-id'] ?? '';
    if (seen.has(id)) {
      repeats++;
      continue;
    }
    seen.add(id);
    const list = byKey.get(r.key);
    if (list === undefined) byKey.set(r.key, [r]);
    else list.push(r);
  }
  return { byKey, repeats };
}
