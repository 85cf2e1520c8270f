import { OutboxWriter } from '@onceflow/producer';
import { tableOf } from './cli.ts';
import type { TestDatabase } from './database.ts';
import { sqlNow } from './relay-sql.ts';

// Rows as the relay and the consumer leave them, in the default Onceflow schema of `db`
// (db.schema), with SQL per dialect kept here so the CLI tests read the same on both servers.

/** `?, ?, ?` for `n` values. */
const marks = (n: number): string => Array.from({ length: n }, () => '?').join(', ');

/** Enqueues one message per key on `topic`; returns their ids in order. */
export async function enqueueKeys(db: TestDatabase, topic: string, keys: readonly string[]): Promise<string[]> {
  const writer = new OutboxWriter({ knex: db.knex, schema: db.schema });
  const sent = await db.knex.transaction((trx) =>
    writer.enqueue(
      trx,
      keys.map((key, i) => ({ topic, key, payload: { i } })),
    ),
  );
  return sent.map((m) => m.id);
}

/** Marks outbox rows dead as a relay would after `errors.length` attempts. */
export async function markDead(db: TestDatabase, ids: readonly string[], errors: readonly string[]): Promise<void> {
  const history = errors.map((error, i) => ({
    at: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
    attempt: i + 1,
    error,
    code: 'E_TEST',
  }));
  if (db.dialect === 'mysql') {
    await db.knex.raw(
      `update ${tableOf(db, 'outbox')} set status = 'dead', attempts = ?, dead_at = ${sqlNow(db)}, errors = ? where id in (${marks(ids.length)})`,
      [errors.length, JSON.stringify(history), ...ids],
    );
    return;
  }
  await db.knex.raw(
    `update ${tableOf(db, 'outbox')} set status = 'dead', attempts = ?, dead_at = now(), errors = ?::jsonb where id = any(?::uuid[])`,
    [errors.length, JSON.stringify(history), [...ids]],
  );
}

/** The status of each outbox row of `ids`, in `seq` order. */
export async function outboxStatuses(db: TestDatabase, ids: readonly string[]): Promise<string[]> {
  const rows = await db.rows<{ status: string }>(
    `select status from ${tableOf(db, 'outbox')} where id in (${marks(ids.length)}) order by seq`,
    [...ids],
  );
  return rows.map((r) => r.status);
}

/** Attempts spent and error history length of each outbox row of `ids`, in `seq` order. */
export async function outboxAttempts(db: TestDatabase, ids: readonly string[]): Promise<Array<{ attempts: number; history: number }>> {
  const length = db.dialect === 'mysql' ? 'json_length(errors)' : 'jsonb_array_length(errors)';
  const rows = await db.rows<{ attempts: unknown; history: unknown }>(
    `select attempts, ${length} as history from ${tableOf(db, 'outbox')} where id in (${marks(ids.length)}) order by seq`,
    [...ids],
  );
  return rows.map((r) => ({ attempts: Number(r.attempts), history: Number(r.history) }));
}

/** Sets the Kafka key of outbox row `id` (bypassing the producer's checks). */
export async function setOutboxKey(db: TestDatabase, id: string, key: string): Promise<void> {
  const column = db.dialect === 'mysql' ? '`key`' : 'key';
  await db.knex.raw(`update ${tableOf(db, 'outbox')} set ${column} = ? where id = ?`, [key, id]);
}

/** Marks the outbox rows of `topic` published now, except those whose key is `except`. */
export async function markPublished(db: TestDatabase, topic: string, except?: string): Promise<void> {
  const column = db.dialect === 'mysql' ? '`key`' : 'key';
  await db.knex.raw(
    `update ${tableOf(db, 'outbox')} set status = 'published', published_at = ${sqlNow(db)} where topic = ?${except === undefined ? '' : ` and ${column} <> ?`}`,
    except === undefined ? [topic] : [topic, except],
  );
}

/** How many outbox rows have `status` (all topics). */
export async function countOutbox(db: TestDatabase, where: { status?: string; topic?: string }): Promise<number> {
  const clauses = Object.keys(where).map((column) => `${column} = ?`);
  const rows = await db.rows<{ n: unknown }>(
    `select count(*) as n from ${tableOf(db, 'outbox')}${clauses.length === 0 ? '' : ` where ${clauses.join(' and ')}`}`,
    Object.values(where),
  );
  return Number(rows[0]?.n);
}

/** An inbox row to insert; `daysAgo` back-dates `processed_at`. */
export interface SeedInboxRow {
  consumer: string;
  dedupKey: string;
  status?: 'done' | 'processing';
  daysAgo?: number;
}

/** Inserts inbox rows, 500 per statement. */
export async function insertInboxRows(db: TestDatabase, rows: readonly SeedInboxRow[]): Promise<void> {
  for (let start = 0; start < rows.length; start += 500) {
    const chunk = rows.slice(start, start + 500);
    const values = chunk.map((r) => `(?, ?, ?, ${agoSql(db, r.daysAgo ?? 0)})`).join(', ');
    await db.knex.raw(
      `insert into ${tableOf(db, 'inbox')} (consumer, dedup_key, status, processed_at) values ${values}`,
      chunk.flatMap((r) => [r.consumer, r.dedupKey, r.status ?? 'done']),
    );
  }
}

/** The dedup keys of `consumer`'s inbox rows, sorted. */
export async function inboxKeys(db: TestDatabase, consumer: string): Promise<string[]> {
  const rows = await db.rows<{ dedup_key: unknown }>(
    `select dedup_key from ${tableOf(db, 'inbox')} where consumer = ? order by dedup_key`,
    [consumer],
  );
  return rows.map((r) => String(r.dedup_key));
}

/** `days` days before now, in UTC, as SQL of `db`'s dialect. */
function agoSql(db: TestDatabase, days: number): string {
  const whole = Math.floor(days);
  return db.dialect === 'mysql' ? `utc_timestamp(6) - interval ${whole} day` : `now() - interval '${whole} days'`;
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

/** Inserts dead letters; returns their ids (decimal strings). */
export async function insertDeadLetters(db: TestDatabase, letters: readonly SeedDeadLetter[]): Promise<string[]> {
  const ids: string[] = [];
  for (const [i, l] of letters.entries()) {
    const errors = (l.errors ?? ['handler failed']).map((message, n) => ({
      attempt: n + 1,
      at: new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString(),
      name: 'Error',
      message,
    }));
    const bindings = [
      l.consumer,
      l.topic,
      l.offset ?? i,
      l.key,
      `${l.topic}:${l.offset ?? i}`,
      JSON.stringify(l.headers ?? {}),
      Buffer.from(l.value),
      JSON.stringify(errors),
      errors.length,
    ];
    const replayedAt = l.replayed === true ? sqlNow(db) : 'null';
    if (db.dialect === 'mysql') {
      // No RETURNING on MySQL 8: the id is the statement's auto-increment value.
      const [header] = (await db.knex.raw(
        `insert into ${tableOf(db, 'dead_letters')} (consumer, topic, \`partition\`, \`offset\`, \`key\`, dedup_key, headers, value, errors, attempts, replayed_at)
         values (?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ${replayedAt})`,
        bindings,
      )) as [{ insertId: number }];
      ids.push(String(header.insertId));
      continue;
    }
    const rows = await db.rows<{ id: string }>(
      `insert into ${tableOf(db, 'dead_letters')} (consumer, topic, partition, "offset", key, dedup_key, headers, value, errors, attempts, replayed_at)
       values (?, ?, 0, ?, ?, ?, ?::jsonb, ?, ?::jsonb, ?, ${replayedAt})
       returning id::text as id`,
      bindings,
    );
    ids.push(rows[0]?.id as string);
  }
  return ids;
}
