import { dedupKeyOf } from '@onceflow/consumer';
import { HeaderNames, OptionError, ValidationError } from '@onceflow/core';
import { describe, expect, it } from 'vitest';
import { makeMessage, redeliveryOf } from './make-message.ts';

describe('makeMessage', () => {
  it('builds what the relay would have published: headers, JSON value, lazy payload', () => {
    const m = makeMessage({
      topic: 'orders.paid',
      key: 'ORD-7',
      idempotencyKey: 'payment:PAY-981',
      type: 'order.paid',
      payload: { points: 10 },
    });
    expect(m).toMatchObject({
      topic: 'orders.paid',
      key: 'ORD-7',
      partition: 0,
      offset: '0',
      idempotencyKey: 'payment:PAY-981',
      type: 'order.paid',
    });
    expect(m.payload).toEqual({ points: 10 });
    expect(m.value?.toString()).toBe('{"points":10}');
    expect(m.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(m.headers[HeaderNames.id]).toBe(m.id);
    expect(m.headers[HeaderNames.createdAt]).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(dedupKeyOf(m, 'idempotencyKey')).toBe('payment:PAY-981');
    expect(dedupKeyOf(m, 'id')).toBe(m.id);
  });

  it('defaults the idempotency key to the message id, as the producer does', () => {
    const m = makeMessage({ topic: 't', key: 'k', id: 'fixed-id' });
    expect(m.idempotencyKey).toBe('fixed-id');
    expect(m.payload).toBeNull();
  });

  it('keeps raw values and foreign records: a non-JSON value throws on payload, bare leaves the headers out', () => {
    const m = makeMessage({
      topic: 't',
      key: null,
      value: Buffer.from([0xff, 0x00]),
      bare: true,
      headers: { 'x-trace': 'a' },
      offset: '41',
      partition: 2,
    });
    expect(m.headers).toEqual({ 'x-trace': 'a' });
    expect(m.idempotencyKey).toBeUndefined();
    expect(m.key).toBeNull();
    expect(() => m.payload).toThrow(ValidationError);
  });

  it('refuses bad input with an OptionError naming the option and value', () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ topic: 'bad topic', key: 'k' }, 'topic'],
      [{ topic: 't', key: '' }, 'key'],
      [{ topic: 't', key: 'k', idempotencyKey: '' }, 'idempotencyKey'],
      [{ topic: 't', key: 'k', offset: '-1' }, 'offset'],
      [{ topic: 't', key: 'k', partition: 1.5 }, 'partition'],
      [{ topic: 't', key: 'k', headers: { a: 1 } }, 'headers.a'],
      [{ topic: 't', key: 'k', payload: { n: 1n } }, 'payload.n'],
      [{ topic: 't', key: 'k', payload: 1, value: Buffer.from('1') }, 'value'],
      [{ topic: 't', key: 'k', timestamp: new Date(Number.NaN) }, 'timestamp'],
    ];
    for (const [input, option] of cases) {
      let error: unknown;
      try {
        makeMessage(input as never);
      } catch (e) {
        error = e;
      }
      expect(error, option).toBeInstanceOf(OptionError);
      expect((error as OptionError).option).toBe(option);
      expect((error as OptionError).message).toContain(`Invalid option ${option}`);
    }
  });

  it('redeliveryOf: the same record after a lost offset commit, or a re-published copy at a new offset', () => {
    const m = makeMessage({ topic: 't', key: 'k', payload: { a: 1 }, offset: '7', timestamp: new Date(0) });
    const same = redeliveryOf(m);
    expect([same.offset, same.timestamp, same.id, same.payload]).toEqual(['7', '0', m.id, { a: 1 }]);
    const copy = redeliveryOf(m, '8');
    expect(copy.offset).toBe('8');
    expect(copy.timestamp).not.toBe('0');
    expect(copy.idempotencyKey).toBe(m.idempotencyKey);
  });
});
