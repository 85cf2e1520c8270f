/**
 * Brings a snapshot into a plain, comparable form: Dates become ISO strings, Buffers
 * `<hex ...>`, bigints `123n`, Maps objects, Sets arrays; object keys are sorted. Two states
 * are equal when their canonical JSON is.
 */
export function canonicalState(value: unknown): unknown {
  return canonical(value, new Set());
}

function canonical(value: unknown, seen: Set<object>): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'function' || typeof value === 'symbol') return String(value);
  if (typeof value !== 'object') return value;
  if (value instanceof Date) return Number.isFinite(value.getTime()) ? value.toISOString() : 'Invalid Date';
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return `<hex ${Buffer.from(value).toString('hex')}>`;
  if (seen.has(value)) return '[circular]';
  seen.add(value);
  try {
    if (Array.isArray(value)) return value.map((v) => canonical(v, seen));
    if (value instanceof Set) return [...value].map((v) => canonical(v, seen));
    const entries = value instanceof Map ? [...value.entries()].map(([k, v]) => [String(k), v] as const) : Object.entries(value);
    const out: Record<string, unknown> = {};
    for (const [k, v] of entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) out[k] = canonical(v, seen);
    return out;
  } finally {
    seen.delete(value);
  }
}

/** True when two snapshots are equal in canonical form. */
export function statesEqual(expected: unknown, actual: unknown): boolean {
  return JSON.stringify(canonicalState(expected)) === JSON.stringify(canonicalState(actual));
}

/**
 * The differences between two snapshots, one line each, with the path where they differ
 * (`rewards`, `orders[2].status`). Arrays are compared as lists of rows: rows in `actual` but
 * not in `expected` are shown with `+`, rows missing with `-`, so a doubled effect reads as
 * one `+` line. Returns an empty list when the states are equal.
 */
export function diffStates(expected: unknown, actual: unknown, maxLines = 40): string[] {
  const lines: string[] = [];
  walk(canonicalState(expected), canonicalState(actual), '(state)', lines);
  if (lines.length > maxLines) return [...lines.slice(0, maxLines), `... and ${lines.length - maxLines} more differences`];
  return lines;
}

function walk(expected: unknown, actual: unknown, path: string, lines: string[]): void {
  if (JSON.stringify(expected) === JSON.stringify(actual)) return;
  if (Array.isArray(expected) && Array.isArray(actual)) {
    diffRows(expected, actual, path, lines);
    return;
  }
  if (isRecord(expected) && isRecord(actual)) {
    const keys = [...new Set([...Object.keys(expected), ...Object.keys(actual)])].sort();
    for (const key of keys) {
      const sub = path === '(state)' ? key : `${path}.${key}`;
      if (!(key in actual)) lines.push(`${sub}: missing; a single delivery gives ${show(expected[key])}`);
      else if (!(key in expected)) lines.push(`${sub}: unexpected ${show(actual[key])}; a single delivery has no such entry`);
      else walk(expected[key], actual[key], sub, lines);
    }
    return;
  }
  lines.push(`${path}: ${show(actual)}; a single delivery gives ${show(expected)}`);
}

function diffRows(expected: unknown[], actual: unknown[], path: string, lines: string[]): void {
  const remaining = new Map<string, number>();
  for (const row of expected) {
    const k = JSON.stringify(row);
    remaining.set(k, (remaining.get(k) ?? 0) + 1);
  }
  const extra: unknown[] = [];
  for (const row of actual) {
    const k = JSON.stringify(row);
    const n = remaining.get(k) ?? 0;
    if (n > 0) remaining.set(k, n - 1);
    else extra.push(row);
  }
  const missing = expected.filter((row) => {
    const k = JSON.stringify(row);
    const n = remaining.get(k) ?? 0;
    if (n === 0) return false;
    remaining.set(k, n - 1);
    return true;
  });
  if (extra.length === 0 && missing.length === 0) {
    lines.push(`${path}: the same ${actual.length} items in another order (sort rows in your snapshot)`);
    return;
  }
  const count =
    actual.length === expected.length
      ? `${actual.length} items, as after a single delivery, but some differ`
      : `${actual.length} items; a single delivery leaves ${expected.length}`;
  lines.push(`${path}: ${count}`);
  for (const row of extra) lines.push(`  + ${show(row)}`);
  for (const row of missing) lines.push(`  - ${show(row)}`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function show(value: unknown, max = 300): string {
  const text = JSON.stringify(value) ?? 'undefined';
  return text.length > max ? `${text.slice(0, max - 3)}...` : text;
}
