import { OutboxWriter } from '@onceflow/producer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestDatabase } from './support/database.ts';
import { connect, createTestDatabase, SERVER_URL, uniqueName } from './support/database.ts';
import { createTopic, testKafka } from './support/kafka.ts';
import { parseExposition, sampleValue } from './support/prometheus.ts';
import { get, relayWithEndpoint } from './support/relay-http.ts';
import { waitFor } from './support/wait.ts';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase(4);
});
afterAll(async () => {
  await db?.drop();
});

/** Lets sessions into the test database again, or keeps them out and ends those open. */
async function allowConnections(allow: boolean): Promise<void> {
  const admin = connect(SERVER_URL, 1);
  try {
    await admin.raw(`alter database "${db.name}" with allow_connections ${allow}`);
    if (!allow)
      await admin.raw('select pg_terminate_backend(pid) from pg_stat_activity where datname = ? and pid <> pg_backend_pid()', [db.name]);
  } finally {
    await admin.destroy();
  }
}

describe('the relay process endpoint: /healthz, /readyz, /metrics', () => {
  it('answers alive and ready, serves metrics that move as messages flow, and reports the database going away', async () => {
    const schema = uniqueName('http');
    const topic = uniqueName('http.orders');
    await createTopic(testKafka(), topic, 1);
    const proc = await relayWithEndpoint(db, schema);
    try {
      const health = await get(proc, '/healthz');
      expect(health.status).toBe(200);
      expect(health.json).toMatchObject({ status: 'ok', alive: true, state: 'running' });

      const ready = await get(proc, '/readyz');
      expect(ready.status).toBe(200);
      expect(ready.json).toMatchObject({
        status: 'ready',
        checks: { database: { ok: true }, publisher: { ok: true }, leases: { ok: true } },
      });

      const scrape = async () => parseExposition((await get(proc, '/metrics')).text);
      expect(sampleValue(await scrape(), 'onceflow_relay_published_messages_total', { topic })).toBe(0);
      const outbox = new OutboxWriter({ knex: db.knex, schema });
      await db.knex.transaction(async (trx) => {
        for (let i = 0; i < 7; i++) await outbox.enqueue(trx, { topic, key: `k${i}`, payload: { i } });
      });
      await waitFor('7 published', async () => sampleValue(await scrape(), 'onceflow_relay_published_messages_total', { topic }) === 7);
      const families = await scrape();
      expect(sampleValue(families, 'onceflow_relay_shards_held')).toBe(proc.relay.stats().shards.length);
      expect(families.has('process_cpu_user_seconds_total')).toBe(true);

      expect((await get(proc, '/nowhere')).status).toBe(404);

      // The database goes away: not ready (the database check says why), still alive.
      await allowConnections(false);
      await waitFor('not ready', async () => (await get(proc, '/readyz')).status === 503, 30_000, 200);
      const down = await get(proc, '/readyz');
      expect(down.json).toMatchObject({ status: 'not ready', checks: { database: { ok: false } } });
      expect(String((down.json.checks as { database: { detail: string } }).database.detail)).not.toBe('');
      expect((await get(proc, '/healthz')).status).toBe(200);

      // It comes back: ready again, by itself.
      await allowConnections(true);
      await waitFor('ready again', async () => (await get(proc, '/readyz')).status === 200, 30_000, 200);
    } finally {
      await allowConnections(true);
      await proc.shutdown();
    }
    // Stopped: the endpoint is closed with the relay.
    await expect(fetch(`http://127.0.0.1:${proc.http?.port}/healthz`)).rejects.toThrow();
  });
});
