import { ValidationError } from './errors.ts';
import { isValidTopic } from './identifiers.ts';

/** A message to enqueue. Only `topic`, `key` and `payload` are required. */
export interface MessageInput<Payload = unknown> {
  /** Kafka topic to publish to. */
  topic: string;
  /**
   * The business entity (order id). Becomes the Kafka record key, so one entity's messages
   * share a partition and keep their order. Required: there is no random fallback.
   */
  key: string;
  /** JSON-serialisable value, or a Buffer/Uint8Array published byte for byte. */
  payload: Payload;
  /** The identity of this business event (`payment:PAY-981`). @defaultValue the message id */
  idempotencyKey?: string;
  /** Event type, carried in the `onceflow-type` header. */
  type?: string;
  /** Extra Kafka headers (text values). */
  headers?: Readonly<Record<string, string>>;
  /** Do not publish before this time. @defaultValue now */
  availableAt?: Date;
}

/** Limits applied to every message. */
export interface MessageLimits {
  readonly maxPayloadBytes: number;
  /** Most headers per message. @defaultValue 64 (see the producer's options) */
  readonly maxHeaders?: number;
  /** Most UTF-8 bytes of all header names and values together. @defaultValue 16384 */
  readonly maxHeaderBytes?: number;
}

/** Default of {@link MessageLimits.maxHeaders}. */
export const DEFAULT_MAX_HEADERS = 64;
/** Default of {@link MessageLimits.maxHeaderBytes}. */
export const DEFAULT_MAX_HEADER_BYTES = 16_384;

/** A validated message ready for storage. */
export interface EncodedMessage {
  readonly topic: string;
  readonly key: string;
  readonly payload: Buffer;
  readonly idempotencyKey: string | undefined;
  readonly type: string | undefined;
  readonly headers: Record<string, string>;
  readonly availableAt: Date | undefined;
}

/**
 * Most UTF-8 bytes of a key or an idempotency key. Both go into unique or partial indexes
 * ((topic, idempotency_key), (topic, key, seq)) whose entries PostgreSQL refuses above about
 * 2,700 bytes; with a topic of at most 249 bytes, 1,024 bytes always fits. The consumer bounds
 * dedup keys the same way, so every idempotency key accepted here can be recorded there.
 */
export const MAX_KEY_BYTES = 1024;

/**
 * Throws unless PostgreSQL can store `value` as text or inside jsonb: no NUL (U+0000), which
 * neither can hold, and no lone UTF-16 surrogate (half a pair, e.g. from cutting a string),
 * which jsonb refuses and text silently turns into U+FFFD.
 */
function assertStorable(field: string, value: string): void {
  if (value.includes('\u0000')) {
    throw new ValidationError(field, value, 'contains a NUL character (U+0000), which PostgreSQL cannot store; remove it');
  }
  if (!value.isWellFormed()) {
    throw new ValidationError(
      field,
      value,
      'contains a lone UTF-16 surrogate (half of a character, often from cutting a string), which PostgreSQL cannot store; cut on whole characters',
    );
  }
}

/** Throws unless `value` is a non-empty string of storable text within `maxBytes` UTF-8 bytes. */
function assertKeyText(field: string, value: string, maxBytes: number, what: string): void {
  assertStorable(field, value);
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes > maxBytes) {
    throw new ValidationError(field, value, `is ${bytes} UTF-8 bytes; at most ${maxBytes} fit its index (${what})`);
  }
}

/**
 * Validates a message and encodes its payload. Throws {@link ValidationError} naming the
 * field (prefixed with `prefix`, e.g. `messages[2].`) and the bad value.
 */
export function encodeMessage(input: unknown, limits: MessageLimits, prefix = ''): EncodedMessage {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new ValidationError(prefix === '' ? 'message' : prefix.slice(0, -1), input, 'expected a message object');
  }
  const m = input as Partial<Record<keyof MessageInput, unknown>>;
  if (!isValidTopic(m.topic)) {
    throw new ValidationError(`${prefix}topic`, m.topic, 'a Kafka topic name of 1-249 characters from [a-zA-Z0-9._-] is required');
  }
  if (typeof m.key !== 'string' || m.key.length === 0) {
    throw new ValidationError(
      `${prefix}key`,
      m.key,
      `a non-empty string of at most ${MAX_KEY_BYTES} UTF-8 bytes is required (the business entity, e.g. an order id)`,
    );
  }
  assertKeyText(`${prefix}key`, m.key, MAX_KEY_BYTES, 'the business entity, e.g. an order id');
  if (m.idempotencyKey !== undefined) {
    if (typeof m.idempotencyKey !== 'string' || m.idempotencyKey.length === 0) {
      throw new ValidationError(
        `${prefix}idempotencyKey`,
        m.idempotencyKey,
        `must be a non-empty string of at most ${MAX_KEY_BYTES} UTF-8 bytes`,
      );
    }
    assertKeyText(`${prefix}idempotencyKey`, m.idempotencyKey, MAX_KEY_BYTES, 'hash longer business identities');
  }
  if (m.type !== undefined && (typeof m.type !== 'string' || m.type.length === 0)) {
    throw new ValidationError(`${prefix}type`, m.type, 'must be a non-empty string');
  }
  if (m.type !== undefined) assertStorable(`${prefix}type`, m.type);
  if (m.availableAt !== undefined && !(m.availableAt instanceof Date && Number.isFinite(m.availableAt.getTime()))) {
    throw new ValidationError(`${prefix}availableAt`, m.availableAt, 'must be a valid Date');
  }
  const headers = encodeHeaders(m.headers, `${prefix}headers`, limits);
  const payload = encodePayload(m.payload, `${prefix}payload`);
  if (payload.length > limits.maxPayloadBytes) {
    throw new ValidationError(
      `${prefix}payload`,
      `${payload.length} bytes`,
      `is larger than maxPayloadBytes (${limits.maxPayloadBytes}); store large data elsewhere and send a reference`,
    );
  }
  return {
    topic: m.topic,
    key: m.key,
    payload,
    idempotencyKey: m.idempotencyKey as string | undefined,
    type: m.type as string | undefined,
    headers,
    availableAt: m.availableAt as Date | undefined,
  };
}

function encodeHeaders(value: unknown, field: string, limits: MessageLimits): Record<string, string> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ValidationError(field, value, 'must be an object of string values');
  }
  const maxHeaders = limits.maxHeaders ?? DEFAULT_MAX_HEADERS;
  const maxHeaderBytes = limits.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
  const entries = Object.entries(value);
  if (entries.length > maxHeaders) {
    throw new ValidationError(field, `${entries.length} headers`, `is more than maxHeaders (${maxHeaders})`);
  }
  const out: Record<string, string> = {};
  let bytes = 0;
  for (const [name, v] of entries) {
    if (name.length === 0) throw new ValidationError(field, name, 'header names must be non-empty');
    // The name may itself be what is wrong, so it is named as the value, not in the field.
    assertStorable(`${field} name`, name);
    if (typeof v !== 'string') throw new ValidationError(`${field}.${name}`, v, 'header values must be strings');
    assertStorable(`${field}.${name}`, v);
    bytes += Buffer.byteLength(name, 'utf8') + Buffer.byteLength(v, 'utf8');
    out[name] = v;
  }
  if (bytes > maxHeaderBytes) {
    throw new ValidationError(field, `${bytes} bytes`, `are larger than maxHeaderBytes (${maxHeaderBytes}) in UTF-8, names included`);
  }
  return out;
}

/** Serialises a payload: bytes as they are, anything else as JSON that round-trips. */
export function encodePayload(payload: unknown, field = 'payload'): Buffer {
  if (Buffer.isBuffer(payload)) return payload;
  if (payload instanceof Uint8Array) return Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  // Paths of the objects being serialised, so an error can name the exact bad field.
  const paths = new WeakMap<object, string>();
  let badPath = field;
  let text: string | undefined;
  try {
    text = JSON.stringify(payload, function replacer(this: unknown, name: string, value: unknown) {
      const holder = this as object;
      const parent = paths.get(holder) ?? field;
      const path = name === '' ? field : Array.isArray(holder) ? `${parent}[${name}]` : `${parent}.${name}`;
      const kind = typeof value;
      if (kind === 'object' && value !== null) paths.set(value as object, path);
      if (kind === 'function' || kind === 'symbol' || kind === 'bigint' || (kind === 'number' && !Number.isFinite(value as number))) {
        badPath = path;
        throw new ValidationError(path, value, 'JSON cannot represent this value');
      }
      return value;
    });
  } catch (error) {
    if (error instanceof ValidationError) throw error;
    const reason = error instanceof Error ? error.message : String(error);
    throw new ValidationError(badPath, payload, `JSON cannot represent this payload (${reason})`, { cause: error });
  }
  if (text === undefined) throw new ValidationError(field, payload, 'JSON cannot represent this value');
  return Buffer.from(text, 'utf8');
}
