/**
 * PostgreSQL text and jsonb cannot hold U+0000, while Kafka keys and headers can. Values
 * stored only for the record (message id, key, headers, error text) have it replaced with
 * U+FFFD, so one odd record can always be recorded or parked instead of failing forever.
 */
export function pgText(value: string): string;
export function pgText(value: string | null): string | null;
export function pgText(value: string | null): string | null {
  return value === null || !value.includes('\u0000') ? value : value.replaceAll('\u0000', '\uFFFD');
}

/** {@link pgText} applied to every string inside a JSON-like value. */
export function pgJson(value: unknown): unknown {
  if (typeof value === 'string') return pgText(value);
  if (Array.isArray(value)) return value.map(pgJson);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [pgText(k), pgJson(v)]));
  }
  return value;
}
