import type { OutgoingRecord, PublishErrorScope } from '@onceflow/core';
import { PublishError } from '@onceflow/core';
import type { KafkaConnectionOptions } from './config.ts';
import type { ResolvedKafkaPublisherOptions } from './options.ts';

/** What the publisher thread is started with (it must survive the structured clone). */
export interface ThreadSetup {
  connection: Omit<KafkaConnectionOptions, 'logger'>;
  publisher: ResolvedKafkaPublisherOptions;
}

/**
 * A batch of records as it crosses to the thread: every string in one array, every value in
 * one buffer that is transferred, not copied. A record is `topic, key, header count, name,
 * value, …` in `strings`, and its value is the next `valueLengths` entry's bytes of `values`.
 * (Cloning one small Buffer per record would copy the whole pool slab behind each of them.)
 */
export interface PackedRecords {
  strings: string[];
  values: Uint8Array<ArrayBuffer>;
  valueLengths: Uint32Array<ArrayBuffer>;
  /** The raw parts of the records that have them (replays: rare, so copied, not packed). */
  raws: Array<{ index: number; key: Uint8Array; value: Uint8Array | null; headers: Array<[string, Uint8Array | null]> }>;
}

/** A request to the thread. */
export type ThreadRequest =
  | { op: 'connect'; id: number }
  | { op: 'disconnect'; id: number }
  | { op: 'publish'; id: number; batch: PackedRecords };

/** A failure's cause as it crosses back: enough to log and to debug, not to decide on. */
export interface SerializedCause {
  name: string;
  message: string;
  stack: string | undefined;
}

/** A publish error as it crosses back: what the relay decides on (`retriable`, `scope`). */
export interface SerializedError {
  message: string;
  retriable: boolean;
  scope: PublishErrorScope | undefined;
  topic: string | undefined;
  cause: SerializedCause | undefined;
}

/** Log levels the thread forwards. */
export type ThreadLogLevel = 'debug' | 'info' | 'warn' | 'error';

/** A reply from the thread. */
export type ThreadReply =
  | { kind: 'done'; id: number }
  | { kind: 'failed'; id: number; error: SerializedError }
  | { kind: 'log'; level: ThreadLogLevel; fields: Record<string, unknown>; message: string };

/** The buffers of a packed batch, for postMessage's transfer list. */
export function transferList(batch: PackedRecords): ArrayBuffer[] {
  return [batch.values.buffer, batch.valueLengths.buffer];
}

/** Packs records for {@link unpackRecords}; {@link transferList} names the buffers to transfer. */
export function packRecords(records: readonly OutgoingRecord[]): PackedRecords {
  const strings: string[] = [];
  const valueLengths = new Uint32Array(records.length);
  const raws: PackedRecords['raws'] = [];
  let total = 0;
  records.forEach((r, i) => {
    if (r.raw !== undefined) {
      // Copies: cloning a view of a pooled Buffer would copy its whole slab.
      const copy = (b: Buffer | null) => (b === null ? null : Uint8Array.from(b));
      raws.push({
        index: i,
        key: Uint8Array.from(r.raw.key),
        value: copy(r.raw.value),
        headers: r.raw.headers.map(([n, v]) => [n, copy(v)]),
      });
    }
    strings.push(r.topic, r.key);
    const names = Object.keys(r.headers);
    strings.push(String(names.length));
    for (const name of names) strings.push(name, r.headers[name] as string);
    valueLengths[i] = r.value.length;
    total += r.value.length;
  });
  const values = new Uint8Array(total);
  let at = 0;
  for (const r of records) {
    values.set(r.value, at);
    at += r.value.length;
  }
  return { strings, values, valueLengths, raws };
}

/** The records {@link packRecords} packed; values are views into the transferred buffer. */
export function unpackRecords(batch: PackedRecords): OutgoingRecord[] {
  const { strings, values, valueLengths } = batch;
  const raws = new Map(batch.raws.map((r) => [r.index, r]));
  const buffer = (b: Uint8Array | null) => (b === null ? null : Buffer.from(b.buffer, b.byteOffset, b.length));
  const records: OutgoingRecord[] = [];
  let s = 0;
  let at = 0;
  for (const length of valueLengths) {
    const topic = strings[s++] as string;
    const key = strings[s++] as string;
    const count = Number(strings[s++]);
    const headers: Record<string, string> = {};
    for (let h = 0; h < count; h++) {
      const name = strings[s++] as string;
      headers[name] = strings[s++] as string;
    }
    const value = Buffer.from(values.buffer, values.byteOffset + at, length);
    const raw = raws.get(records.length);
    if (raw === undefined) records.push({ topic, key, value, headers });
    else {
      const parts = {
        key: buffer(raw.key) as Buffer,
        value: buffer(raw.value),
        headers: raw.headers.map(([n, v]) => [n, buffer(v)] as const),
      };
      records.push({ topic, key, value, headers, raw: parts });
    }
    at += length;
  }
  if (s !== strings.length || at !== values.length) {
    throw new Error(
      `A packed batch of ${valueLengths.length} records has ${strings.length - s} strings and ${values.length - at} bytes left over`,
    );
  }
  return records;
}

/** The parts of a publish failure that cross back to the owner (all plain data). */
export function serializeError(error: unknown): SerializedError {
  const e = (error ?? {}) as { message?: unknown; retriable?: unknown; scope?: unknown; topic?: unknown; cause?: unknown };
  return {
    message: typeof e.message === 'string' ? e.message : String(error),
    retriable: e.retriable !== false,
    scope: e.scope === 'broker' || e.scope === 'record' ? e.scope : undefined,
    topic: typeof e.topic === 'string' ? e.topic : undefined,
    cause: serializeCause(e.cause),
  };
}

function serializeCause(cause: unknown): SerializedCause | undefined {
  if (cause === undefined || cause === null) return undefined;
  if (cause instanceof Error) return { name: cause.name, message: cause.message, stack: cause.stack };
  return { name: 'Error', message: String(cause), stack: undefined };
}

/**
 * The owner's view of a failure in the thread: a PublishError with the same message,
 * `retriable`, `scope` and `topic`, and as `cause` an Error standing for the thread's cause.
 */
export function deserializeError(error: SerializedError): PublishError {
  return new PublishError(error.message, {
    retriable: error.retriable,
    ...(error.scope === undefined ? {} : { scope: error.scope }),
    ...(error.topic === undefined ? {} : { topic: error.topic }),
    ...(error.cause === undefined ? {} : { cause: deserializeCause(error.cause) }),
  });
}

function deserializeCause(cause: SerializedCause): Error {
  const error = new Error(cause.message);
  error.name = cause.name;
  if (cause.stack !== undefined) error.stack = cause.stack;
  return error;
}
