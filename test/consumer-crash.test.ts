import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { InboxConsumerStats } from '@onceflow/consumer';
import { migrate } from '@onceflow/core';
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { committedTotal, createEffects, effects, orderViolation, publish, waitFor } from './support/consumer-helpers.ts';
import type { TestDatabase } from './support/database.ts';
import { createTestDatabase, uniqueName } from './support/database.ts';
import { createTopic, testKafka } from './support/kafka.ts';

const WORKER = fileURLToPath(new URL('./support/consumer-worker.ts', import.meta.url));

let db: TestDatabase;
let kafka: Kafka;

beforeAll(async () => {
  db = await createTestDatabase();
  await migrate(db.knex, { schema: db.schema });
  kafka = testKafka('consumer-crash-test');
});
afterAll(async () => {
  await db?.drop();
});

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

interface Worker {
  exited: Promise<Exit>;
  ready: Promise<void>;
  kill(signal: NodeJS.Signals): void;
}

function startWorker(config: Record<string, unknown>): Worker {
  const child = spawn(process.execPath, [WORKER], {
    env: { ...process.env, WORKER_CONFIG: JSON.stringify(config) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  let onReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => {
    onReady = resolve;
  });
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    if (stdout.includes('ready\n')) onReady();
  });
  const exited = new Promise<Exit>((resolve) => {
    child.on('exit', (code, signal) => {
      onReady();
      resolve({ code, signal, stdout, stderr });
    });
  });
  return { exited, ready, kill: (signal) => child.kill(signal) };
}

describe('InboxConsumer crash', () => {
  it('killed (SIGKILL) between the DB commit and the offset commit, then restarted: no double effect', async () => {
    const topic = uniqueName('crash');
    const table = uniqueName('fx');
    const groupId = uniqueName('group');
    await createTopic(kafka, topic, 2);
    await createEffects(db.knex, table);
    const total = 1_000;
    await publish(
      kafka,
      topic,
      Array.from({ length: total }, (_, i) => ({
        key: `k${i % 20}`,
        payload: { key: `k${i % 20}`, seq: i },
        idempotencyKey: `${topic}:${i}`,
      })),
    );
    const config = {
      databaseUrl: db.url,
      dialect: db.dialect,
      schema: db.schema,
      topic,
      groupId,
      consumerName: uniqueName('ledger'),
      table,
    };

    const first = startWorker({ ...config, killAfter: 300 });
    const died = await first.exited;
    expect(died.signal, `worker exited with ${died.code}: ${died.stderr}`).toBe('SIGKILL');
    const afterCrash = (await effects(db.knex, table)).length;
    const committedAtCrash = await committedTotal(kafka, groupId, topic);
    expect(afterCrash).toBeGreaterThanOrEqual(300);
    // Effects committed in the database whose offsets never were: they will be redelivered.
    expect(committedAtCrash).toBeLessThan(afterCrash);

    const second = startWorker({ ...config, killAfter: 0 });
    try {
      await second.ready;
      await waitFor('every offset committed', async () => (await committedTotal(kafka, groupId, topic)) === total, 90_000);
    } finally {
      second.kill('SIGTERM');
    }
    const { stdout, stderr } = await second.exited;
    expect(stdout, stderr).toContain('{');
    const stats = JSON.parse(stdout.trim().split('\n').at(-1) as string) as InboxConsumerStats;
    const rows = await effects(db.knex, table);
    expect(rows).toHaveLength(total);
    expect(new Set(rows.map((r) => r.dedup_key)).size).toBe(total);
    expect(orderViolation(rows)).toBeNull();
    expect(stats.handled).toBe(total - afterCrash);
    expect(stats.duplicates).toBeGreaterThanOrEqual(afterCrash - committedAtCrash);
  });
});
