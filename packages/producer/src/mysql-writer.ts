import type { EncodedMessage } from '@onceflow/core';
import {
  activeTraceHeaders,
  afterCommit,
  hasMysqlRelays,
  keyLockId,
  mysqlMissingSchemaError,
  mysqlTablesFor,
  newMessageId,
  shardOf,
  ValidationError,
  wakeMysqlRelays,
} from '@onceflow/core';
import type { Knex } from 'knex';
import type { ResolvedOutboxWriterOptions } from './options.ts';
import type { EnqueuedMessage } from './outbox-writer.ts';
import type { StoredMessage } from './sql-mysql/find-messages.ts';
import { findCommittedMessages, findOwnMessages, findStoredMessages } from './sql-mysql/find-messages.ts';
import { insertMessages } from './sql-mysql/insert-messages.ts';
import { lockKeys } from './sql-mysql/lock-keys.ts';

/** Makes the error thrown for a duplicate when `onDuplicate` is `'error'`. */
export type DuplicateErrorFactory = (topic: string, idempotencyKey: string, existingId: string) => Error;

/**
 * Writes validated messages into the MySQL or MariaDB outbox inside `trx`: what
 * `OutboxWriter.enqueue` does on those servers. A plain read of the duplicates already
 * committed (skipped, so nothing locks them), the key locks, then the other rows in input
 * order, then a read of which rows this call wrote and which earlier messages the rest met.
 * MySQL has no LISTEN/NOTIFY: relays of other processes find the rows by polling; a relay of
 * this process on the same schema is woken once `trx` commits (see core's mysql-wakeups.ts).
 */
export async function writeMysqlMessages(
  trx: Knex.Transaction,
  options: ResolvedOutboxWriterOptions,
  messages: readonly EncodedMessage[],
  duplicateError: DuplicateErrorFactory,
): Promise<EnqueuedMessage[]> {
  if (messages.length === 0) return [];
  messages.forEach((m, i) => {
    if (m.availableAt !== undefined) assertDatetimeRange(m.availableAt, messages.length > 1 ? `messages[${i}].availableAt` : 'availableAt');
  });
  const tables = mysqlTablesFor(options.tables.schema);
  const trace = activeTraceHeaders();
  const out: EnqueuedMessage[] = messages.map((m) => {
    const id = newMessageId();
    return { id, topic: m.topic, key: m.key, idempotencyKey: m.idempotencyKey ?? id, duplicate: false };
  });
  let written: Set<string>;
  let stored: StoredMessage[];
  try {
    // Duplicates already committed are skipped before the insert, which would lock them (see
    // findCommittedMessages). Only caller-given keys can meet one: a default key is a new id.
    stored = await findCommittedMessages(
      trx,
      tables,
      out.filter((_, i) => messages[i]?.idempotencyKey !== undefined).map((r) => [r.topic, r.idempotencyKey] as const),
    );
    const known = new Set(stored.map(pairOf));
    const fresh = messages.flatMap((m, i) => (known.has(`${m.topic}\u0000${(out[i] as EnqueuedMessage).idempotencyKey}`) ? [] : [i]));
    const lockIds = [...new Set(fresh.map((i) => keyLockId(tables.schema, out[i]?.topic as string, out[i]?.key as string)))].sort(
      compareBigIntText,
    );
    await lockKeys(trx, tables, lockIds);
    await insertMessages(
      trx,
      tables,
      fresh.map((i) => {
        const m = messages[i] as EncodedMessage;
        const r = out[i] as EnqueuedMessage;
        return {
          id: r.id,
          topic: m.topic,
          key: m.key,
          shard: shardOf(m.topic, m.key),
          idempotencyKey: r.idempotencyKey,
          type: m.type ?? null,
          payload: m.payload,
          // The trace active at enqueue, unless the caller set a traceparent of its own.
          headers: JSON.stringify(trace === undefined || m.headers.traceparent !== undefined ? m.headers : { ...m.headers, ...trace }),
          availableAt: m.availableAt === undefined ? null : utcDatetime(m.availableAt),
        };
      }),
    );
    written = new Set(
      await findOwnMessages(
        trx,
        tables,
        fresh.map((i) => (out[i] as EnqueuedMessage).id),
      ),
    );
    // Duplicates the insert met (committed after this transaction's snapshot, or written
    // twice in this call): read with a lock, as the insert already holds one on each.
    stored.push(
      ...(await findStoredMessages(
        trx,
        tables,
        fresh
          .filter((i) => !written.has((out[i] as EnqueuedMessage).id))
          .map((i) => [out[i]?.topic as string, out[i]?.idempotencyKey as string] as const),
      )),
    );
  } catch (error) {
    throw mysqlMissingSchemaError(error, tables.schema) ?? error;
  }

  // The id stored for each (topic, idempotency key); bytes decode exactly, as only
  // well-formed text was written.
  const byKey = new Map(stored.map((s) => [pairOf(s), s.id]));
  if (hasMysqlRelays(tables.schema)) {
    const shards = [...new Set(messages.filter((_, i) => written.has((out[i] as EnqueuedMessage).id)).map((m) => shardOf(m.topic, m.key)))];
    if (shards.length > 0) afterCommit(trx, () => wakeMysqlRelays(tables.schema, shards));
  }
  return out.map((r) => {
    if (written.has(r.id)) return r;
    const storedId = byKey.get(`${r.topic}\u0000${r.idempotencyKey}`);
    // Not found cannot happen: each duplicate was read before the insert or under the lock the
    // insert took on it. Reported as on PostgreSQL, as a duplicate of nothing to return.
    if (storedId === undefined) return { ...r, duplicate: true };
    if (options.onDuplicate === 'error') throw duplicateError(r.topic, r.idempotencyKey, storedId);
    return { ...r, id: storedId, duplicate: true };
  });
}

/**
 * Throws unless `date` lies in DATETIME's range (years 1000 to 9999), which is narrower than
 * PostgreSQL's timestamptz: a clear error naming the field instead of the server's.
 */
function assertDatetimeRange(date: Date, field: string): void {
  const year = date.getUTCFullYear();
  if (year < 1000 || year > 9999) {
    throw new ValidationError(field, date.toISOString(), 'must lie in the years 1000 to 9999 (the range of MySQL DATETIME)');
  }
}

/** A Date as MySQL DATETIME(6) text in UTC, the zone every Onceflow time column holds. */
function utcDatetime(date: Date): string {
  return `${date.toISOString().slice(0, 23).replace('T', ' ')}000`;
}

/** `topic NUL idempotency key` of a stored message; its key bytes decode exactly, as only well-formed text was written. */
function pairOf(s: StoredMessage): string {
  return `${s.topic}\u0000${Buffer.from(s.idempotency_key).toString('utf8')}`;
}

function compareBigIntText(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}
