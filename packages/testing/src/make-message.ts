import type { ConsumedMessage } from '@onceflow/consumer';
import { toConsumedMessage } from '@onceflow/consumer';
import type { IncomingRecord } from '@onceflow/core';
import { encodePayload, HeaderNames, isValidTopic, newMessageId, OptionError, ValidationError } from '@onceflow/core';

/**
 * What {@link makeMessage} builds a {@link ConsumedMessage} from. Only `topic` and `key` are
 * required; the rest defaults to what Onceflow's relay would have published.
 */
export interface MakeMessageOptions<Payload = unknown> {
  /** The topic the record came from (a legal Kafka topic name). */
  topic: string;
  /** The record key (the business entity), or null for a record without one. */
  key: string | null;
  /** The payload, JSON-encoded into the record value. Give `payload` or `value`, not both. @defaultValue null (no value) */
  payload?: Payload;
  /** The raw record value, for payloads that are not JSON. @defaultValue the JSON of `payload` */
  value?: Buffer | null;
  /** The `onceflow-idempotency-key` header: the business event's identity. @defaultValue the message id, as the producer does */
  idempotencyKey?: string;
  /** The `onceflow-id` header (the outbox message id). @defaultValue a new uuid v7 */
  id?: string;
  /** The `onceflow-type` header. @defaultValue none */
  type?: string;
  /** Further headers; Onceflow's own headers win over a header of the same name. @defaultValue none */
  headers?: Readonly<Record<string, string>>;
  /** Leave Onceflow's headers out, as in a record another system published. @defaultValue false */
  bare?: boolean;
  /** Kafka partition. @defaultValue 0 */
  partition?: number;
  /** Kafka offset, as a decimal string. @defaultValue "0" */
  offset?: string;
  /** Broker timestamp. @defaultValue now */
  timestamp?: Date;
}

/**
 * Builds the {@link ConsumedMessage} a handler would receive from Kafka, without Kafka: the
 * headers carry id, idempotency key, type and creation time as the relay sets them, and
 * `payload` parses lazily from the value exactly as it does in a running consumer.
 * Throws OptionError naming the bad field.
 *
 * @example
 * const message = makeMessage({ topic: 'orders.paid', key: 'ORD-7', idempotencyKey: 'payment:PAY-981', payload: { points: 10 } });
 */
export function makeMessage<Payload = unknown>(options: MakeMessageOptions<Payload>): ConsumedMessage<Payload> {
  if (options === null || typeof options !== 'object') throw new OptionError('options', options, 'an object with topic and key');
  const o = options as Partial<Record<keyof MakeMessageOptions, unknown>>;
  if (!isValidTopic(o.topic)) throw new OptionError('topic', o.topic, 'a Kafka topic name of 1-249 characters from [a-zA-Z0-9._-]');
  if (o.key !== null && (typeof o.key !== 'string' || o.key.length === 0)) {
    throw new OptionError('key', o.key, 'a non-empty string (the business entity), or null for a record without a key');
  }
  const id = optionalText('id', o.id) ?? newMessageId();
  const idempotencyKey = optionalText('idempotencyKey', o.idempotencyKey) ?? id;
  const type = optionalText('type', o.type);
  const partition = o.partition ?? 0;
  if (typeof partition !== 'number' || !Number.isInteger(partition) || partition < 0) {
    throw new OptionError('partition', partition, 'an integer of 0 or more');
  }
  const offset = o.offset ?? '0';
  if (typeof offset !== 'string' || !/^\d{1,19}$/.test(offset)) throw new OptionError('offset', offset, 'a decimal string such as "42"');
  const timestamp = o.timestamp ?? new Date();
  if (!(timestamp instanceof Date) || !Number.isFinite(timestamp.getTime())) throw new OptionError('timestamp', timestamp, 'a valid Date');
  const bare = o.bare ?? false;
  if (typeof bare !== 'boolean') throw new OptionError('bare', bare, 'true or false');
  const headers: Record<string, string> = { ...extraHeaders(o.headers) };
  if (!bare) {
    headers[HeaderNames.id] = id;
    headers[HeaderNames.idempotencyKey] = idempotencyKey;
    if (type !== undefined) headers[HeaderNames.type] = type;
    headers[HeaderNames.createdAt] = timestamp.toISOString();
  }
  const record: IncomingRecord = {
    topic: o.topic,
    partition,
    offset,
    key: o.key as string | null,
    value: recordValue(o),
    headers,
    timestamp: String(timestamp.getTime()),
  };
  return toConsumedMessage(record) as ConsumedMessage<Payload>;
}

function optionalText(option: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length === 0) throw new OptionError(option, value, 'a non-empty string');
  return value;
}

function extraHeaders(value: unknown): Record<string, string> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new OptionError('headers', value, 'an object of string header values');
  }
  for (const [name, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw new OptionError(`headers.${name}`, v, 'a string header value');
  }
  return value as Record<string, string>;
}

function recordValue(o: Partial<Record<keyof MakeMessageOptions, unknown>>): Buffer | null {
  if (o.value !== undefined && o.payload !== undefined) throw new OptionError('value', o.value, 'either value or payload, not both');
  if (o.value !== undefined) {
    if (o.value !== null && !Buffer.isBuffer(o.value)) throw new OptionError('value', o.value, 'a Buffer or null');
    return o.value;
  }
  if (o.payload === undefined) return null;
  try {
    return encodePayload(o.payload);
  } catch (error) {
    const field = error instanceof ValidationError ? error.field : 'payload';
    throw new OptionError(field, o.payload, 'a JSON-serialisable value (use `value` for raw bytes)');
  }
}

/**
 * A copy of `message` as Kafka would deliver it again: the same record (same offset) after a
 * lost offset commit, or a re-published copy (a new offset and timestamp) when `offset` is given.
 */
export function redeliveryOf<Payload>(message: ConsumedMessage<Payload>, offset?: string): ConsumedMessage<Payload> {
  return toConsumedMessage({
    topic: message.topic,
    partition: message.partition,
    offset: offset ?? message.offset,
    key: message.key,
    value: message.value,
    headers: { ...message.headers },
    timestamp: offset === undefined ? message.timestamp : String(Date.now()),
  }) as ConsumedMessage<Payload>;
}
