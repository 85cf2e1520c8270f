import { describe, expect, it } from 'vitest';
import { ValidationError } from './errors.ts';
import { encodeMessage, MAX_KEY_BYTES } from './message.ts';

const limits = { maxPayloadBytes: 1_000, maxHeaders: 3, maxHeaderBytes: 40 };
const good = { topic: 'orders', key: 'O-1', payload: { n: 1 } };

function refusal(message: unknown, prefix = ''): ValidationError {
  try {
    encodeMessage(message, limits, prefix);
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return error as ValidationError;
  }
  throw new Error('expected a ValidationError');
}

describe('encodeMessage refuses what PostgreSQL cannot store or index', () => {
  it('refuses NUL in key, idempotency key, type, header names and header values, naming the field', () => {
    expect(refusal({ ...good, key: 'O\u00001' }).field).toBe('key');
    expect(refusal({ ...good, idempotencyKey: 'pay\u0000' }).field).toBe('idempotencyKey');
    expect(refusal({ ...good, type: 'order\u0000paid' }).field).toBe('type');
    const name = refusal({ ...good, headers: { 'x-\u0000': 'v' } });
    expect(name.field).toBe('headers name');
    expect(name.value).toBe(JSON.stringify('x-\u0000'));
    expect(refusal({ ...good, headers: { 'x-a': 'v\u0000' } }, 'messages[2].').field).toBe('messages[2].headers.x-a');
    expect(refusal({ ...good, key: 'O\u00001' }).message).toMatch(/Invalid key \("O\\u00001"\): contains a NUL character/);
  });

  it('refuses lone surrogates in key, idempotency key, type and headers', () => {
    expect(refusal({ ...good, key: 'O-\ud83d' }).field).toBe('key');
    expect(refusal({ ...good, idempotencyKey: '\ude00' }).field).toBe('idempotencyKey');
    expect(refusal({ ...good, type: 't\ud800' }).field).toBe('type');
    expect(refusal({ ...good, headers: { 'x-\udbff': 'v' } }).field).toBe('headers name');
    expect(refusal({ ...good, headers: { 'x-a': 'cut \ud83d' } }).message).toMatch(/lone UTF-16 surrogate/);
    expect(encodeMessage({ ...good, key: 'O-\ud83d\ude00' }, limits).key).toBe('O-\ud83d\ude00');
  });

  it('limits key and idempotency key in UTF-8 bytes, not characters, and shortens the value shown', () => {
    const multiByte = '€'.repeat(400);
    expect(multiByte.length).toBeLessThan(MAX_KEY_BYTES);
    const key = refusal({ ...good, key: multiByte });
    expect(key.field).toBe('key');
    expect(key.message).toMatch(/is 1200 UTF-8 bytes; at most 1024/);
    expect(key.value.length).toBeLessThan(120);
    expect(refusal({ ...good, idempotencyKey: multiByte }).field).toBe('idempotencyKey');
    expect(encodeMessage({ ...good, key: 'k'.repeat(MAX_KEY_BYTES) }, limits).key).toHaveLength(MAX_KEY_BYTES);
  });

  it('limits the number and total UTF-8 size of headers', () => {
    const count = refusal({ ...good, headers: { a: '1', b: '2', c: '3', d: '4' } });
    expect(count.field).toBe('headers');
    expect(count.message).toMatch(/more than maxHeaders \(3\)/);
    const size = refusal({ ...good, headers: { a: 'é'.repeat(20) } });
    expect(size.message).toMatch(/41 bytes.*larger than maxHeaderBytes \(40\)/);
    expect(encodeMessage({ ...good, headers: { a: 'x'.repeat(39) } }, limits).headers).toEqual({ a: 'x'.repeat(39) });
  });
});
