import { MessageChannel } from 'node:worker_threads';
import type { OutgoingRecord } from '@onceflow/core';
import { PublishError } from '@onceflow/core';
import { KafkaJSProtocolError } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { toPublishError } from './errors.ts';
import { deserializeError, packRecords, serializeError, transferList, unpackRecords } from './thread-protocol.ts';

/** What a record looks like after the trip, in plain data vitest compares by value. */
function plain(records: readonly OutgoingRecord[]) {
  return records.map((r) => ({ topic: r.topic, key: r.key, value: [...r.value], headers: { ...r.headers } }));
}

/** Packs, sends through a real MessageChannel with the buffers transferred, and unpacks. */
async function roundTrip(records: readonly OutgoingRecord[]): Promise<OutgoingRecord[]> {
  const batch = packRecords(records);
  const { port1, port2 } = new MessageChannel();
  const received = new Promise<unknown>((resolve) => port2.once('message', resolve));
  port1.postMessage(batch, transferList(batch));
  const data = await received;
  port1.close();
  port2.close();
  expect(batch.values.byteLength).toBe(0); // transferred, not copied
  return unpackRecords(data as typeof batch);
}

describe('packRecords / unpackRecords', () => {
  it('round-trip records over several topics, with empty values, unicode and no headers', async () => {
    const records: OutgoingRecord[] = [
      { topic: 'orders', key: 'k1', value: Buffer.from('{"n":1}'), headers: { 'onceflow-id': 'a', trace: 'x' } },
      { topic: 'payments', key: 'k2', value: Buffer.alloc(0), headers: {} },
      { topic: 'orders', key: 'clé-🔑-键', value: Buffer.from('ünïcödé ✓'), headers: { 'en-tête-✉': 'välue-🚀', '': '' } },
      { topic: 'audit.log_v2', key: '', value: Buffer.from([0, 255, 1, 254]), headers: { a: '' } },
      { topic: 'payments', key: 'k2', value: Buffer.alloc(0), headers: {} },
    ];
    const back = await roundTrip(records);
    expect(plain(back)).toEqual(plain(records));
    for (const r of back) expect(Buffer.isBuffer(r.value)).toBe(true);
  });

  it('copies exactly the bytes of values that are slices of one pooled Buffer', async () => {
    // Small Buffer.from() results share Node's pool slab; the batch must carry only their bytes.
    const slab = Buffer.from('AAAABBBBBBCCDDDDDDDDEEE');
    const slices = [slab.subarray(0, 4), slab.subarray(4, 10), slab.subarray(10, 12), slab.subarray(12, 20), slab.subarray(20)];
    const records = slices.map((value, i) => ({ topic: `t${i % 2}`, key: `k${i}`, value, headers: { i: String(i) } }));
    const batch = packRecords(records);
    expect(batch.values.byteLength).toBe(slab.length);
    const back = await roundTrip(records);
    expect(back.map((r) => r.value.toString())).toEqual(['AAAA', 'BBBBBB', 'CC', 'DDDDDDDD', 'EEE']);
    expect(plain(back)).toEqual(plain(records));
    // Values are views into one buffer, not copies of it.
    expect(new Set(back.map((r) => r.value.buffer)).size).toBe(1);
  });

  it('carry the raw parts of a replayed record: binary key, null value, repeated and null headers', async () => {
    const raw = {
      key: Buffer.from([0xff, 0x00, 0xfe]),
      value: null,
      headers: [
        ['x', Buffer.from([1, 2])],
        ['x', null],
        ['y', Buffer.alloc(0)],
      ] as const,
    };
    const records: OutgoingRecord[] = [
      { topic: 't', key: 'plain', value: Buffer.from('v'), headers: {} },
      { topic: 't', key: '\uFFFD', value: Buffer.alloc(0), headers: {}, raw },
    ];
    const back = await roundTrip(records);
    expect(back[0]?.raw).toBeUndefined();
    expect(back[1]?.raw).toEqual(raw);
  });

  it('round-trip an empty batch and a batch of one large value', async () => {
    expect(await roundTrip([])).toEqual([]);
    const big = Buffer.alloc(3_000_000, 7);
    const [back] = await roundTrip([{ topic: 't', key: 'k', value: big, headers: {} }]);
    expect(back?.value.equals(big)).toBe(true);
  });

  it('refuses a batch whose strings and values do not add up', () => {
    const batch = packRecords([{ topic: 't', key: 'k', value: Buffer.from('v'), headers: { h: '1' } }]);
    expect(() => unpackRecords({ ...batch, strings: [...batch.strings, 'extra'] })).toThrow(/1 strings and 0 bytes left over/);
  });
});

describe('serializeError / deserializeError', () => {
  it('keep message, retriable, scope and topic of a PublishError across structured clone', () => {
    const original = toPublishError(
      new KafkaJSProtocolError({ message: 'too large', type: 'MESSAGE_TOO_LARGE', code: 10, retriable: false } as never),
      'orders',
    );
    const back = deserializeError(structuredClone(serializeError(original)));
    expect(back).toBeInstanceOf(PublishError);
    expect(back).toMatchObject({ message: original.message, retriable: false, scope: 'record', topic: 'orders', code: 'ONCEFLOW_PUBLISH' });
    expect(back.cause).toBeInstanceOf(Error);
    expect((back.cause as Error).name).toBe('KafkaJSProtocolError');
    expect((back.cause as Error).message).toBe('too large');
  });

  it('keep a retriable broker-wide error without topic as such', () => {
    const original = new PublishError('Publishing to Kafka failed: Connection error', { retriable: true, scope: 'broker' });
    const back = deserializeError(structuredClone(serializeError(original)));
    expect(back).toMatchObject({ message: original.message, retriable: true, scope: 'broker', topic: undefined });
    expect(back.cause).toBeUndefined();
  });

  it('treat a foreign error as retriable and without scope', () => {
    const back = deserializeError(structuredClone(serializeError(new TypeError('boom'))));
    expect(back).toMatchObject({ message: 'boom', retriable: true, scope: undefined, topic: undefined });
    expect(deserializeError(serializeError('a string'))).toMatchObject({ message: 'a string', retriable: true });
  });
});
