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
}

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

const MAX_KEY_LENGTH = 1024;

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
  if (typeof m.key !== 'string' || m.key.length === 0 || m.key.length > MAX_KEY_LENGTH) {
    throw new ValidationError(
      `${prefix}key`,
      m.key,
      `a non-empty string of at most ${MAX_KEY_LENGTH} characters is required (the business entity, e.g. an order id)`,
    );
  }
  if (
    m.idempotencyKey !== undefined &&
    (typeof m.idempotencyKey !== 'string' || m.idempotencyKey.length === 0 || m.idempotencyKey.length > MAX_KEY_LENGTH)
  ) {
    throw new ValidationError(
      `${prefix}idempotencyKey`,
      m.idempotencyKey,
      `must be a non-empty string of at most ${MAX_KEY_LENGTH} characters`,
    );
  }
  if (m.type !== undefined && (typeof m.type !== 'string' || m.type.length === 0)) {
    throw new ValidationError(`${prefix}type`, m.type, 'must be a non-empty string');
  }
  if (m.availableAt !== undefined && !(m.availableAt instanceof Date && Number.isFinite(m.availableAt.getTime()))) {
    throw new ValidationError(`${prefix}availableAt`, m.availableAt, 'must be a valid Date');
  }
  const headers = encodeHeaders(m.headers, `${prefix}headers`);
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

function encodeHeaders(value: unknown, field: string): Record<string, string> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ValidationError(field, value, 'must be an object of string values');
  }
  const out: Record<string, string> = {};
  for (const [name, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw new ValidationError(`${field}.${name}`, v, 'header values must be strings');
    out[name] = v;
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
