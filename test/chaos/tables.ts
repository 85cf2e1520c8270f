import type { Knex } from 'knex';

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
 */
export async function createChaosTables(knex: Knex, topics: readonly string[], keysPerTopic: number): Promise<void> {
  await knex.raw(`
    create table chaos_keys (
      topic text not null,
      key text not null,
      last_seq integer not null default 0,
      primary key (topic, key)
    )`);
  await knex.raw(`
    create table chaos_sent (
      ik text primary key,
      tx text not null,
      worker integer not null,
      topic text not null,
      key text not null,
      key_seq integer not null,
      poison boolean not null default false,
      committed_at timestamptz not null default now(),
      unique (topic, key, key_seq)
    )`);
  await knex.raw('create table chaos_rolled_back (ik text primary key, tx text not null)');
  await knex.raw(`
    create table chaos_balance (
      topic text not null,
      key text not null,
      last_seq integer not null default 0,
      applied integer not null default 0,
      primary key (topic, key)
    )`);
  await knex.raw(`
    create table chaos_ledger (
      id bigint generated always as identity primary key,
      ik text not null,
      message_id text,
      topic text not null,
      key text not null,
      key_seq integer not null,
      prev_seq integer not null,
      consumer text not null,
      applied_at timestamptz not null default now()
    )`);
  await knex.raw('create index chaos_ledger_ik on chaos_ledger (ik)');
  // Every key exists up front, so producers and handlers only ever lock and update a row.
  for (const table of ['chaos_keys', 'chaos_balance']) {
    await knex.raw(`insert into ${table} (topic, key) select t, 'k' || n from unnest(?::text[]) t, generate_series(0, ? - 1) n`, [
      [...topics],
      keysPerTopic,
    ]);
  }
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
