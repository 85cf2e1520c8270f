import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestDatabase } from './support/database.ts';
import { createTestDatabase, uniqueName } from './support/database.ts';
import { get, relayWithEndpoint } from './support/relay-http.ts';
import { kafkaControl } from './support/relay-processes.ts';
import { waitFor } from './support/wait.ts';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase(4);
  await kafkaControl('start');
});
afterAll(async () => {
  await kafkaControl('start');
  await db?.drop();
});

describe('the relay process endpoint when the broker goes away', () => {
  it('turns not ready while the broker is down, stays alive, and ready again once it is back', async () => {
    const proc = await relayWithEndpoint(db, uniqueName('httpk'));
    try {
      expect((await get(proc, '/readyz')).status).toBe(200);
      await kafkaControl('stop');
      await waitFor('not ready', async () => (await get(proc, '/readyz')).status === 503, 60_000, 500);
      const down = await get(proc, '/readyz');
      expect(down.json).toMatchObject({ status: 'not ready', checks: { publisher: { ok: false }, database: { ok: true } } });
      expect((await get(proc, '/healthz')).status).toBe(200);
      await kafkaControl('start');
      await waitFor('ready again', async () => (await get(proc, '/readyz')).status === 200, 90_000, 500);
    } finally {
      await proc.shutdown();
    }
  });
});
