import { describe, expect, it } from 'vitest';
import { decodeRawHeaders, encodeRawHeaders } from './raw-headers.ts';
import type { RawHeader } from './transport.ts';

describe('raw headers', () => {
  it('round-trip order, repeated names, null values, empty and binary values', () => {
    const headers: RawHeader[] = [
      ['b', Buffer.from([0xff, 0x00, 0xfe])],
      ['a', null],
      ['b', Buffer.alloc(0)],
      ['', Buffer.from('x')],
      ['ü\u0000', Buffer.from([0xc3])],
    ];
    expect(decodeRawHeaders(encodeRawHeaders(headers))).toEqual(headers);
    expect(decodeRawHeaders(encodeRawHeaders([]))).toEqual([]);
  });

  it('refuses bytes cut inside a header', () => {
    const bytes = encodeRawHeaders([['name', Buffer.from('value')]]);
    expect(() => decodeRawHeaders(bytes.subarray(0, bytes.length - 1))).toThrow(RangeError);
  });
});
