/**
 * PostgreSQL text and jsonb cannot hold U+0000, and jsonb refuses a lone UTF-16 surrogate
 * (JSON.stringify writes it as an escape like `\ud83d`, which jsonb rejects with 22P02), while
 * Kafka keys, headers, error messages cut in the middle of a surrogate pair and any dedup
 * function's output can carry either. Values stored only for the record (message id, key,
 * headers, error text) have them replaced with U+FFFD, so one odd record can always be
 * recorded or dead-lettered instead of failing forever.
 */
export function pgText(value: string): string;
export function pgText(value: string | null): string | null;
export function pgText(value: string | null): string | null {
  if (value === null) return null;
  const wellFormed = value.isWellFormed() ? value : value.toWellFormed();
  return wellFormed.includes('\u0000') ? wellFormed.replaceAll('\u0000', '\uFFFD') : wellFormed;
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

/**
 * Whether `error` is PostgreSQL refusing the data itself rather than failing to run: a data
 * exception (SQLSTATE class 22, e.g. 22P02 bad jsonb, 22021 bad encoding) or a program limit
 * (class 54, e.g. 54000 index row size). Trying the same row again can only fail the same way.
 */
export function isDataError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.length === 5 && (code.startsWith('22') || code.startsWith('54'));
}

/** `text` cut to at most `maxChars` UTF-16 units without splitting a surrogate pair, marked with "...". */
export function truncateText(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  let end = maxChars - 3;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${text.slice(0, end)}...`;
}
