/**
 * In-process wake-ups of MySQL relays. MySQL has no LISTEN/NOTIFY, so relays poll; a relay
 * and a producer in one process can do better: the producer's commit calls
 * {@link wakeMysqlRelays}, and every relay of that schema registered here wakes the lanes
 * serving the shards written. A hint only: a wake-up that finds nothing costs one poll, and
 * rows whose wake-up is missed (another process, a relay started later) are found by polling.
 *
 * Keyed by the Onceflow schema (the database name) alone, not the server: two servers holding
 * databases of one name in one process only wake each other's relays for nothing.
 */
const relays = new Map<string, Set<(shards: readonly number[]) => void>>();

/** Registers `listener` for commits into `schema`; returns the function that unregisters it. */
export function onMysqlCommit(schema: string, listener: (shards: readonly number[]) => void): () => void {
  let set = relays.get(schema);
  if (set === undefined) {
    set = new Set();
    relays.set(schema, set);
  }
  set.add(listener);
  return () => {
    const current = relays.get(schema);
    current?.delete(listener);
    if (current?.size === 0) relays.delete(schema);
  };
}

/** True when a relay of `schema` listens in this process (a producer then asks to be told of its commit). */
export function hasMysqlRelays(schema: string): boolean {
  return relays.has(schema);
}

/**
 * Tells the relays of `schema` in this process that rows of `shards` were committed. A
 * listener that throws is skipped; the others still hear it.
 */
export function wakeMysqlRelays(schema: string, shards: readonly number[]): void {
  for (const listener of relays.get(schema) ?? []) {
    try {
      listener(shards);
    } catch {
      // A wake-up is a hint; the relay's polling finds the rows anyway.
    }
  }
}
