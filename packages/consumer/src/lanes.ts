import { fnv1a32 } from '@onceflow/core';

/**
 * Splits items (in offset order) into at most `lanes` lists so that every item of one key
 * lands in the same list, in its original order. Lists run in parallel; each runs its items
 * one after another, which is what keeps per-key order. Items without a key carry no order
 * promise and are spread round robin.
 */
export function splitIntoLanes<T>(items: readonly T[], keyOf: (item: T) => string | null, lanes: number): T[][] {
  const out: T[][] = Array.from({ length: Math.max(1, lanes) }, () => []);
  let spread = 0;
  for (const item of items) {
    const key = keyOf(item);
    const lane = key === null ? spread++ % out.length : fnv1a32(key) % out.length;
    (out[lane] as T[]).push(item);
  }
  return out.filter((l) => l.length > 0);
}
