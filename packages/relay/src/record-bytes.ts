import type { OutgoingRecord } from '@onceflow/core';

/** Kafka's record batch header (v2), paid once per partition batch. */
const BATCH_OVERHEAD = 61;
/** Upper bound of a record's own varints (length, attributes, deltas, key and value lengths, header count). */
const RECORD_OVERHEAD = 30;
/** Upper bound of one header's two length varints. */
const HEADER_OVERHEAD = 10;

/**
 * An upper bound of the bytes `record` takes in an uncompressed Kafka record batch of its own
 * (the size the broker compares with `max.message.bytes`). Sums of it bound a send.
 */
export function recordBytes(record: OutgoingRecord): number {
  let bytes = BATCH_OVERHEAD + RECORD_OVERHEAD + Buffer.byteLength(record.key) + record.value.length;
  for (const [name, value] of Object.entries(record.headers)) {
    bytes += HEADER_OVERHEAD + Buffer.byteLength(name) + Buffer.byteLength(value);
  }
  return bytes;
}
