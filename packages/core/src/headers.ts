/**
 * Kafka header names Onceflow sets on every record. Consumers read the idempotency key from
 * here; other systems can publish records Onceflow consumes by setting the same headers.
 */
export const HeaderNames = {
  id: 'onceflow-id',
  idempotencyKey: 'onceflow-idempotency-key',
  type: 'onceflow-type',
  createdAt: 'onceflow-created-at',
  traceparent: 'traceparent',
} as const;

/** Header values as Onceflow reads them: decoded text, absent headers undefined. */
export type Headers = Readonly<Record<string, string>>;

/** Decodes the raw header map a Kafka client gives (Buffer, string, arrays) into text. */
export function decodeHeaders(raw: Readonly<Record<string, unknown>> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (raw === undefined) return out;
  for (const [name, value] of Object.entries(raw)) {
    const first = Array.isArray(value) ? value[0] : value;
    if (first === undefined || first === null) continue;
    out[name] = Buffer.isBuffer(first) ? first.toString('utf8') : String(first);
  }
  return out;
}
