import type { RawHeader } from './transport.ts';

/** The length written for a null header value. */
const NULL_VALUE = 0xffffffff;

/**
 * Encodes headers as bytes that keep everything Kafka carries: order, repeated names and null
 * values. Each header is `name length (u32 BE), name (UTF-8), value length (u32 BE, all ones
 * for null), value`. Stored in a bytea column, it cannot be refused for its content.
 */
export function encodeRawHeaders(headers: readonly RawHeader[]): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of headers) {
    const nameBytes = Buffer.from(name, 'utf8');
    const lengths = Buffer.alloc(4);
    lengths.writeUInt32BE(nameBytes.length);
    const valueLength = Buffer.alloc(4);
    valueLength.writeUInt32BE(value === null ? NULL_VALUE : value.length);
    parts.push(lengths, nameBytes, valueLength);
    if (value !== null) parts.push(value);
  }
  return Buffer.concat(parts);
}

/** The headers {@link encodeRawHeaders} encoded; throws a RangeError on bytes it did not write. */
export function decodeRawHeaders(bytes: Buffer): RawHeader[] {
  const headers: RawHeader[] = [];
  let at = 0;
  const take = (length: number): Buffer => {
    if (at + length > bytes.length) throw new RangeError(`Encoded headers end after ${bytes.length} bytes, inside a header`);
    const part = bytes.subarray(at, at + length);
    at += length;
    return part;
  };
  while (at < bytes.length) {
    const name = take(take(4).readUInt32BE()).toString('utf8');
    const length = take(4).readUInt32BE();
    headers.push([name, length === NULL_VALUE ? null : Buffer.from(take(length))]);
  }
  return headers;
}
