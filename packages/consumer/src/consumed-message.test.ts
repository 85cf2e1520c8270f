import { HeaderNames, ValidationError } from '@onceflow/core';
import { describe, expect, it } from 'vitest';
import { toConsumedMessage } from './consumed-message.ts';
import { dedupKeyOf } from './dedup.ts';
import { DedupKeyError } from './errors.ts';

const record = (headers: Record<string, string>, value: string | null = '{"n":1}') => ({
  topic: 'orders',
  partition: 2,
  offset: '41',
  key: 'O-1',
  value: value === null ? null : Buffer.from(value),
  headers,
  timestamp: '1700000000000',
});

describe('toConsumedMessage', () => {
  it('decodes Onceflow headers and parses the payload lazily', () => {
    const m = toConsumedMessage(
      record({ [HeaderNames.id]: 'id-1', [HeaderNames.idempotencyKey]: 'pay:1', [HeaderNames.type]: 'order.paid' }),
    );
    expect(m).toMatchObject({
      topic: 'orders',
      partition: 2,
      offset: '41',
      key: 'O-1',
      id: 'id-1',
      idempotencyKey: 'pay:1',
      type: 'order.paid',
    });
    expect(m.payload).toEqual({ n: 1 });
    expect(m.value?.toString()).toBe('{"n":1}');
    expect(toConsumedMessage(record({}, null)).payload).toBeNull();
  });

  it('throws a ValidationError naming the record when the payload is not JSON', () => {
    const m = toConsumedMessage(record({}, 'not json'));
    expect(() => m.payload).toThrow(ValidationError);
    expect(() => m.payload).toThrow(/orders\/2@41/);
  });
});

describe('dedupKeyOf', () => {
  const full = toConsumedMessage(record({ [HeaderNames.id]: 'id-1', [HeaderNames.idempotencyKey]: 'pay:1' }));
  const foreign = toConsumedMessage(record({ [HeaderNames.id]: 'id-2' }));
  const bare = toConsumedMessage(record({}));

  it('reads the idempotency key, the id, or a function', () => {
    expect(dedupKeyOf(full, 'idempotencyKey')).toBe('pay:1');
    expect(dedupKeyOf(full, 'id')).toBe('id-1');
    expect(dedupKeyOf(foreign, 'id')).toBe('id-2');
    expect(dedupKeyOf(bare, (m) => `${m.topic}:${(m.payload as { n: number }).n}`)).toBe('orders:1');
  });

  it('explains what to configure when no key can be derived', () => {
    expect(() => dedupKeyOf(foreign, 'idempotencyKey')).toThrow(DedupKeyError);
    expect(() => dedupKeyOf(foreign, 'idempotencyKey')).toThrow(/configure dedup 'id'/);
    expect(() => dedupKeyOf(bare, 'id')).toThrow(/orders\/2@41/);
    expect(() => dedupKeyOf(bare, () => '')).toThrow(DedupKeyError);
    expect(() =>
      dedupKeyOf(bare, () => {
        throw new Error('boom');
      }),
    ).toThrow(/dedup function threw/);
    expect(() => dedupKeyOf(bare, () => 'x'.repeat(1025))).toThrow(/1025 characters/);
  });
});
