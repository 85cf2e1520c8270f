/**
 * What only the relay's MySQL statements do, on MariaDB (MySQL 8 alike): "due" judged without a
 * clock read after the snapshot, a relay's bookkeeping retried after a deadlock without
 * charging an attempt twice, pruning of the producers' key-lock rows that skips held ones, the
 * schema check at start, and the adaptive poll that stands in for LISTEN/NOTIFY.
 */
import type { OutgoingRecord, Publisher } from '@onceflow/core';
import {
  MYSQL_DEADLOCK,
  migrate,
  mysqlErrno,
  mysqlRetriable,
  mysqlTablesFor,
  SchemaVersionError,
  SHARD_COUNT,
  shardOf,
} from '@onceflow/core';
import { OutboxWriter } from '@onceflow/producer';
import { Relay } from '@onceflow/relay';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mysqlRelaySql } from '../packages/relay/src/relay-sql.ts';
import type { TestDatabase } from './support/database.ts';
import { connectMariadb, createMariadbDatabase } from './support/mariadb.ts';
import { waitFor } from './support/relay-helpers.ts';
import { countRows } from './support/relay-sql.ts';

let db: TestDatabase;
const sql = mysqlRelaySql;
const shards = Array.from({ length: SHARD_COUNT }, (_, i) => i);

beforeAll(async () => {
  db = await createMariadbDatabase(10);
  await migrate(db.knex, { schema: db.schema });
});
afterAll(async () => {
  await db?.drop();
});

/**
 * Deadlocks InnoDB has detected since the server started: MariaDB's Innodb_deadlocks status,
 * else MySQL 8's lock_deadlocks metric (on by default).
 */
async function deadlocks(): Promise<number> {
  const [status] = await db.rows<{ Value: string }>(`show global status like 'Innodb_deadlocks'`);
  if (status !== undefined) return Number(status.Value);
  const [metric] = await db.rows<{ n: number }>(`select count as n from information_schema.innodb_metrics where name = 'lock_deadlocks'`);
  return Number(metric?.n ?? 0);
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe('claimBatch on MySQL', () => {
  it("keeps a key's order when rows commit after the claim's clock was read but before its snapshot", async () => {
    const tables = mysqlTablesFor(db.schema);
    await db.knex.raw(`truncate table ${tables.outbox}`);
    // A session holding the outbox's table lock: the claim statement starts (its
    // utc_timestamp(6) is fixed then) and waits for the lock before InnoDB takes its snapshot.
    const other = connectMariadb(db.name, 1);
    try {
      await other.raw(`lock tables ${tables.outbox} write`);
      const claiming = sql.claimBatch(db.knex, tables, shards, 10, undefined, true);
      await pause(300);
      // Meanwhile, one after the other (as two producers of the key commit): b1 as the producer
      // writes an undelayed row, then b2 with an explicit availableAt in the past.
      await other.raw(
        `insert into ${tables.outbox} (id, topic, \`key\`, shard, idempotency_key, payload)
         values ('00000000-0000-7000-8000-000000000001', 'window', 'b', 3, 'b1', 'b1')`,
      );
      await other.raw(
        `insert into ${tables.outbox} (id, topic, \`key\`, shard, idempotency_key, payload, available_at)
         values ('00000000-0000-7000-8000-000000000002', 'window', 'b', 3, 'b2', 'b2', '2000-01-01')`,
      );
      await other.raw('unlock tables');
      const claimed = await claiming;
      // Judged by the statement's clock alone, b1 (written after that clock was read) would look
      // delayed and b2 would go first.
      expect(claimed.map((r) => r.idempotency_key)).toEqual(['b1', 'b2']);
    } finally {
      await other.raw('unlock tables').catch(() => undefined);
      await other.destroy();
    }
  });
});

describe('lock conflicts on MySQL', () => {
  it("retries a failure record whose transaction was chosen as a deadlock's victim, charging the attempt once", async () => {
    const tables = mysqlTablesFor(db.schema);
    await db.knex.raw(`truncate table ${tables.outbox}`);
    await db.knex.raw(`update ${tables.relayShards} set owner = null, lease_until = '1000-01-01 00:00:00'`);
    const [m] = await db.knex.transaction((trx) =>
      new OutboxWriter({ schema: db.schema }).enqueue(trx, [{ topic: 'deadlock', key: 'k', payload: 1 }]),
    );
    const [row] = await sql.claimBatch(db.knex, tables, shards, 10, undefined, true);
    expect(row?.id).toBe(m?.id);
    const leases = await sql.claimShards(db.knex, tables, 'relay-x', SHARD_COUNT, 60_000);
    const lease = leases.find((l) => l.shard === row?.shard);
    expect(lease).toBeDefined();
    await db.knex.raw(`create table if not exists ${db.schema}.ballast (n int primary key, v int)`);
    await db.knex.raw(`insert into ${db.schema}.ballast (n, v) values ${Array.from({ length: 50 }, (_, i) => `(${i}, 0)`).join(', ')}`);
    const before = await deadlocks();

    // Another transaction, heavier by 50 changed rows (InnoDB rolls back the lighter one),
    // holds the outbox row; the failure record takes its fence's shared lock on the lease row
    // and waits for the outbox row; the other then asks for the lease row: a deadlock.
    const other = connectMariadb(db.name, 1);
    let marking: Promise<number[]> | undefined;
    try {
      await other.transaction(async (trx) => {
        await trx.raw(`update ${db.schema}.ballast set v = v + 1`);
        await trx.raw(`select id from ${tables.outbox} where id = ? for update`, [row?.id ?? '']);
        marking = sql.markFailed(
          db.knex,
          tables,
          { relayId: 'relay-x', shards: [lease?.shard ?? 0], tokens: [lease?.token ?? '0'] },
          [{ id: row?.id ?? '', entry: { at: 'now', attempt: 1, error: 'refused' }, delayMs: 10, dead: false }],
          false,
        );
        await pause(300);
        await trx.raw(`select shard from ${tables.relayShards} where shard = ? for update`, [lease?.shard ?? -1]);
      });
    } finally {
      await other.destroy();
    }
    // The victim's retry waited for the other transaction's end, then recorded the failure.
    expect(await marking).toEqual([lease?.shard]);
    expect(await deadlocks()).toBeGreaterThan(before);
    const [state] = await db.rows<{ attempts: number; n: number; holds_key: number }>(
      `select attempts, json_length(errors) as n, holds_key from ${tables.outbox} where id = ?`,
      [row?.id],
    );
    expect({ attempts: Number(state?.attempts), n: Number(state?.n), holds: Number(state?.holds_key) }).toEqual({
      attempts: 1,
      n: 1,
      holds: 1,
    });
  });

  it('reports a real deadlock with errno 1213, which mysqlRetriable accepts', async () => {
    const a = connectMariadb(db.name, 1);
    const b = connectMariadb(db.name, 1);
    await db.knex.raw(`create table if not exists ${db.schema}.pair (n int primary key)`);
    await db.knex.raw(`insert ignore into ${db.schema}.pair (n) values (1), (2)`);
    let failure: unknown;
    try {
      await Promise.all([
        a.transaction(async (trx) => {
          await trx.raw(`select n from ${db.schema}.pair where n = 1 for update`);
          await pause(200);
          await trx.raw(`select n from ${db.schema}.pair where n = 2 for update`);
        }),
        b.transaction(async (trx) => {
          await trx.raw(`select n from ${db.schema}.pair where n = 2 for update`);
          await pause(200);
          await trx.raw(`select n from ${db.schema}.pair where n = 1 for update`);
        }),
      ]).catch((error: unknown) => {
        failure = error;
      });
    } finally {
      await a.destroy();
      await b.destroy();
    }
    expect(mysqlErrno(failure)).toBe(MYSQL_DEADLOCK);
    expect(mysqlRetriable(failure)).toBe(true);
  });
});

describe('shard claims on MySQL', () => {
  it('shares the free shards among relays claiming at the same moment, none claimed twice', async () => {
    const tables = mysqlTablesFor(db.schema);
    for (let round = 0; round < 3; round++) {
      await db.knex.raw(`update ${tables.relayShards} set owner = null, lease_until = '1000-01-01 00:00:00'`);
      const claims = await Promise.all(
        ['a', 'b', 'c', 'd'].map((relay) => sql.claimShards(db.knex, tables, `relay-${relay}-${round}`, SHARD_COUNT / 4, 10_000)),
      );
      const taken = claims.flat().map((lease) => lease.shard);
      expect(new Set(taken).size, `round ${round}: ${claims.map((c) => c.length).join(', ')}`).toBe(taken.length);
      expect(taken.length, `round ${round}: ${claims.map((c) => c.length).join(', ')}`).toBe(SHARD_COUNT);
    }
  });
});

describe('key-lock pruning on MySQL', () => {
  it('deletes the key-lock rows no producer holds, skips a held one, and the held key keeps its producers in order', async () => {
    const tables = mysqlTablesFor(db.schema);
    await db.knex.raw(`truncate table ${tables.outbox}`);
    const writer = new OutboxWriter({ schema: db.schema });
    await db.knex.transaction((trx) =>
      writer.enqueue(
        trx,
        ['x', 'y', 'z', 'held'].map((key) => ({ topic: 'locks', key, payload: key })),
      ),
    );
    expect(await countRows(db, tables.keyLocks, '1 = 1')).toBeGreaterThanOrEqual(4);
    const done: string[] = [];
    // A producer holds the key "held" while the prune runs.
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const first = db.knex.transaction(async (trx) => {
      await writer.enqueue(trx, { topic: 'locks', key: 'held', payload: 'first' });
      await released;
      done.push('first');
    });
    await pause(100);
    expect(await sql.pruneKeyLocks?.(db.knex, tables, null, 1_000)).toBeNull();
    expect(await countRows(db, tables.keyLocks, '1 = 1')).toBe(1);
    // A second producer of the key waits for the first, though the prune ran meanwhile.
    const second = db.knex.transaction(async (trx) => {
      await writer.enqueue(trx, { topic: 'locks', key: 'held', payload: 'second' });
      done.push('second');
    });
    await pause(200);
    expect(done).toEqual([]);
    release();
    await Promise.all([first, second]);
    expect(done).toEqual(['first', 'second']);
    const rows = await db.rows<{ payload: Buffer }>(`select payload from ${tables.outbox} where \`key\` = 'held' order by seq`);
    expect(rows.map((r) => JSON.parse(r.payload.toString()))).toEqual(['held', 'first', 'second']);
    expect(await sql.pruneKeyLocks?.(db.knex, tables, null, 1_000)).toBeNull();
    expect(await countRows(db, tables.keyLocks, '1 = 1')).toBe(0);
  });
});

/** Notes when each record reached it instead of sending it to a broker. */
class ClockedPublisher implements Publisher {
  readonly arrived = new Map<string, number>();
  connected = false;
  async connect(): Promise<void> {
    this.connected = true;
  }
  async publish(records: readonly OutgoingRecord[]): Promise<void> {
    for (const r of records) this.arrived.set(String(r.key), performance.now());
  }
  async disconnect(): Promise<void> {}
}

describe('a relay on MySQL', () => {
  it('refuses a database without Onceflow tables before it connects the publisher', async () => {
    const publisher = new ClockedPublisher();
    const relay = new Relay({ knex: db.knex, publisher, schema: `${db.schema}_none` });
    await expect(relay.start()).rejects.toBeInstanceOf(SchemaVersionError);
    expect(publisher.connected).toBe(false);
    await relay.stop();
  });

  it('polls adaptively: rows of another process are found within milliseconds while they flow; idle, it reads about once per poll interval', async () => {
    const tables = mysqlTablesFor(db.schema);
    await db.knex.raw(`truncate table ${tables.outbox}`);
    await db.knex.raw(`update ${tables.relayShards} set owner = null, lease_until = '1000-01-01 00:00:00'`);
    const publisher = new ClockedPublisher();
    const relay = new Relay({ knex: db.knex, publisher, schema: db.schema, pollIntervalMs: 1_000, leaseMs: 3_000, retentionMs: 0 });
    await relay.start();
    // Written as another process would: plain inserts, no wake-up of this process's relays.
    const insert = async (key: string) => {
      await db.knex.raw(
        `insert into ${tables.outbox} (id, topic, \`key\`, shard, idempotency_key, payload) values (uuid(), 'poll', ?, ?, ?, '1')`,
        [key, shardOf('poll', key), key],
      );
      return performance.now();
    };
    let claims = 0;
    const countClaims = (query: { sql?: string }) => {
      if (query.sql?.includes('o.pending_shard = ?') === true) claims++;
    };
    try {
      // Let the relay go idle: its waits grow to the poll interval. Then count its reads for 3 s.
      await pause(1_500);
      db.knex.on('query', countClaims);
      await pause(3_000);
      db.knex.off('query', countClaims);
      const idleClaims = claims;
      const idleAt = await insert('idle');
      await waitFor('the idle row', () => publisher.arrived.has('idle'), 5_000, 5);
      const idleDelay = (publisher.arrived.get('idle') as number) - idleAt;
      // A steady flow: a row every 20 ms.
      const written = new Map<string, number>();
      for (let i = 0; i < 40; i++) {
        written.set(`busy-${i}`, await insert(`busy-${i}`));
        await pause(20);
      }
      await waitFor('the busy rows', () => [...written.keys()].every((k) => publisher.arrived.has(k)), 5_000, 5);
      const delays = [...written].map(([k, at]) => (publisher.arrived.get(k) as number) - at).sort((a, b) => a - b);
      const median = delays[Math.floor(delays.length / 2)] as number;
      console.log(
        `adaptive poll: ${idleClaims} reads in 3 s idle, idle row after ${idleDelay.toFixed(0)} ms, flowing rows after ${median.toFixed(0)} ms (median)`,
      );
      // One lane in use while caught up, reading once a second (a read every 5 ms were 600).
      expect(idleClaims).toBeGreaterThanOrEqual(2);
      expect(idleClaims).toBeLessThanOrEqual(5);
      expect(idleDelay).toBeLessThan(1_500);
      expect(median).toBeLessThan(200);
    } finally {
      await relay.stop();
    }
  });
});
