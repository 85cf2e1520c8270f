import type { Headers, IncomingRecord, RawHeader } from '@onceflow/core';
import { HeaderNames, ValidationError } from '@onceflow/core';

/**
 * A record as a handler sees it: the transport's fields plus Onceflow's headers decoded.
 * `payload` is the value parsed as JSON on first access (a value that is not JSON throws a
 * {@link ValidationError}, which dead-letters the message); `value` keeps the raw bytes.
 */
export interface ConsumedMessage<Payload = unknown> {
  readonly topic: string;
  readonly partition: number;
  /** Kafka offset as a decimal string. */
  readonly offset: string;
  /** The record key (the business entity), or null when the record has none. */
  readonly key: string | null;
  /** The raw record value. */
  readonly value: Buffer | null;
  /** Every header, decoded as text. */
  readonly headers: Headers;
  /** The key's bytes as delivered (`key` is their UTF-8 decoding); dead letters and replay keep them. */
  readonly rawKey: Buffer | null;
  /** Every header as delivered, in order, repeats and null values included. */
  readonly rawHeaders: readonly RawHeader[];
  /** Broker timestamp, milliseconds since the epoch, as a decimal string. */
  readonly timestamp: string;
  /** The `onceflow-id` header (the outbox message id), when present. */
  readonly id: string | undefined;
  /** The `onceflow-idempotency-key` header, when present. */
  readonly idempotencyKey: string | undefined;
  /** The `onceflow-type` header, when present. */
  readonly type: string | undefined;
  /** The value parsed as JSON (cached); null for a record without a value. */
  readonly payload: Payload;
}

const UNPARSED = Symbol('unparsed');

class Consumed implements ConsumedMessage {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: string | null;
  readonly value: Buffer | null;
  readonly headers: Headers;
  readonly rawKey: Buffer | null;
  readonly rawHeaders: readonly RawHeader[];
  readonly timestamp: string;
  readonly id: string | undefined;
  readonly idempotencyKey: string | undefined;
  readonly type: string | undefined;
  #payload: unknown = UNPARSED;

  constructor(record: IncomingRecord) {
    this.topic = record.topic;
    this.partition = record.partition;
    this.offset = record.offset;
    this.key = record.key;
    this.value = record.value;
    this.headers = record.headers;
    this.rawKey = record.rawKey !== undefined ? record.rawKey : record.key === null ? null : Buffer.from(record.key, 'utf8');
    this.rawHeaders =
      record.rawHeaders ?? Object.entries(record.headers).map(([name, value]) => [name, Buffer.from(value, 'utf8')] as const);
    this.timestamp = record.timestamp;
    this.id = nonEmpty(record.headers[HeaderNames.id]);
    this.idempotencyKey = nonEmpty(record.headers[HeaderNames.idempotencyKey]);
    this.type = nonEmpty(record.headers[HeaderNames.type]);
  }

  get payload(): unknown {
    if (this.#payload === UNPARSED) this.#payload = parsePayload(this);
    return this.#payload;
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

function parsePayload(message: Consumed): unknown {
  if (message.value === null) return null;
  try {
    return JSON.parse(message.value.toString('utf8'));
  } catch (error) {
    throw new ValidationError(
      'payload',
      message.value,
      `the record at ${message.topic}/${message.partition}@${message.offset} is not JSON; read message.value for raw bytes`,
      { cause: error },
    );
  }
}

/** Wraps a transport record as a {@link ConsumedMessage}; the payload is parsed lazily. */
export function toConsumedMessage(record: IncomingRecord): ConsumedMessage {
  return new Consumed(record);
}

/** `topic/partition@offset`, for logs and error messages. */
export function describeRecord(message: Pick<ConsumedMessage, 'topic' | 'partition' | 'offset'>): string {
  return `${message.topic}/${message.partition}@${message.offset}`;
}
