import { OutboxWriter } from '@onceflow/producer';
import type { Knex } from 'knex';

/** Enqueues one message per key on `topic` in the default schema; returns their ids in order. */
export async function enqueueKeys(knex: Knex, topic: string, keys: readonly string[]): Promise<string[]> {
  const writer = new OutboxWriter({ knex });
  const sent = await knex.transaction((trx) =>
    writer.enqueue(
      trx,
      keys.map((key, i) => ({ topic, key, payload: { i } })),
    ),
  );
  return sent.map((m) => m.id);
}

/** Marks outbox rows dead as a relay would after `errors.length` attempts. */
export async function markDead(knex: Knex, ids: readonly string[], errors: readonly string[]): Promise<void> {
  const history = errors.map((error, i) => ({
    at: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
    attempt: i + 1,
    error,
    code: 'E_TEST',
  }));
  await knex.raw(`update onceflow.outbox set status = 'dead', attempts = ?, dead_at = now(), errors = ?::jsonb where id = any(?::uuid[])`, [
    errors.length,
    JSON.stringify(history),
    [...ids],
  ]);
}

/** A dead letter as a consumer parks it; returns its id. */
export interface SeedDeadLetter {
  consumer: string;
  topic: string;
  key: string | null;
  value: string;
  offset?: number;
  errors?: readonly string[];
  replayed?: boolean;
  headers?: Record<string, string>;
}

/** Inserts dead letters into the default schema; returns their ids (decimal strings). */
export async function insertDeadLetters(knex: Knex, letters: readonly SeedDeadLetter[]): Promise<string[]> {
  const ids: string[] = [];
  for (const [i, l] of letters.entries()) {
    const errors = (l.errors ?? ['handler failed']).map((message, n) => ({
      attempt: n + 1,
      at: new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString(),
      name: 'Error',
      message,
    }));
    const result = await knex.raw(
      `insert into onceflow.dead_letters (consumer, topic, partition, "offset", key, dedup_key, headers, value, errors, attempts, replayed_at)
       values (?, ?, 0, ?, ?, ?, ?::jsonb, ?, ?::jsonb, ?, ${l.replayed === true ? 'now()' : 'null'})
       returning id::text as id`,
      [
        l.consumer,
        l.topic,
        l.offset ?? i,
        l.key,
        `${l.topic}:${l.offset ?? i}`,
        JSON.stringify(l.headers ?? {}),
        Buffer.from(l.value),
        JSON.stringify(errors),
        errors.length,
      ],
    );
    ids.push(result.rows[0].id as string);
  }
  return ids;
}
