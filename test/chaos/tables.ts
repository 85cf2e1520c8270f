import type { Knex } from 'knex';
import { chaosSqlFor } from './chaos-sql.ts';

/**
 * The chaos run's own tables, beside Onceflow's in the run's database.
 *
 * Producer side, written in the same transaction as the outbox messages:
 * - `chaos_keys`: one row per (topic, key); a producer bumps `last_seq` under the row lock, so a
 *   key's sequence numbers are gapless over committed transactions and in their commit order.
 * - `chaos_sent`: the business row of every committed message (its idempotency key and
 *   per-key sequence). What is here committed; nothing else did.
 * - `chaos_rolled_back`: idempotency keys of transactions rolled back on purpose, written after
 *   the rollback, so the checker can name them.
 *
 * Consumer side, written by the handler inside the consumer's transaction:
 * - `chaos_balance`: per-key state (last applied sequence, number applied), locked per message so
 *   effects on one key are a chain.
 * - `chaos_ledger`: one row per effect, with the sequence the key had before it (`prev_seq`).
 *   No unique index on purpose: a double effect must be counted, not refused.
 *
 * A key's column is `msg_key` (`key` is a reserved word on MySQL). The statements per server
 * are in chaos-sql-postgres.ts and chaos-sql-mysql.ts.
 */
export async function createChaosTables(knex: Knex, topics: readonly string[], keysPerTopic: number): Promise<void> {
  const sql = chaosSqlFor(knex);
  for (const statement of sql.createTables) await knex.raw(statement);
  // Every key exists up front, so producers and handlers only ever lock and update a row.
  const keys = Array.from({ length: keysPerTopic }, (_, n) => keyName(n));
  for (const table of ['chaos_keys', 'chaos_balance'] as const) await sql.seedKeys(knex, table, topics, keys);
}

/** The key name of key number `n` (as `createChaosTables` made it). */
export function keyName(n: number): string {
  return `k${n}`;
}

/** The payload of every chaos message. */
export interface ChaosPayload {
  /** Idempotency key, `w<worker>-t<transaction>-m<index>`. */
  ik: string;
  /** Producer transaction, `w<worker>-t<transaction>`. */
  tx: string;
  key: string;
  /** The key's sequence: its producer commit order. */
  seq: number;
  /** A planted poison message: its handler always fails with FatalHandlerError. */
  poison: boolean;
  /** Filler to a realistic size. */
  pad: string;
}
