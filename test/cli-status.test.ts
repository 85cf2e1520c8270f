import { describe, expect, it } from 'vitest';
import { migratedDatabase, onceflow, onceflowJson, onTerminal } from './support/cli.ts';
import { uniqueName } from './support/database.ts';
import { countOutbox, enqueueKeys, inboxKeys, insertDeadLetters, insertInboxRows, markDead, markPublished } from './support/seed.ts';

const db = migratedDatabase();

interface StatusJson {
  schema: string;
  topics: Array<Record<string, unknown>>;
  consumers: Array<Record<string, unknown>>;
}

describe('onceflow status', () => {
  it('reports the outbox per topic and the inbox and dead letters per consumer', async () => {
    const busy = uniqueName('busy');
    const poisoned = uniqueName('poisoned');
    await enqueueKeys(db(), busy, ['a', 'b', 'c']);
    const [dead] = await enqueueKeys(db(), poisoned, ['p', 'q']);
    await markDead(db(), [dead as string], ['refused', 'refused again']);
    await insertInboxRows(db(), [
      { consumer: 'orders', dedupKey: 'k1' },
      { consumer: 'orders', dedupKey: 'k2' },
      { consumer: 'orders', dedupKey: 'k3', status: 'processing' },
      { consumer: 'rewards', dedupKey: 'k1' },
    ]);
    await insertDeadLetters(db(), [
      { consumer: 'orders', topic: busy, key: 'a', value: '{}', offset: 1 },
      { consumer: 'orders', topic: busy, key: 'b', value: '{}', offset: 2, replayed: true },
      { consumer: 'audit', topic: busy, key: 'c', value: '{}', offset: 3 },
    ]);

    const { json, stderr } = await onceflowJson<StatusJson>(db().url, 'status');
    expect(stderr).toBe('');
    expect(json.schema).toBe(db().schema);
    expect(json.topics).toEqual([
      { topic: busy, backlog: 3, waiting: 0, retrying: 0, attempts: 0, dead: 0, oldestPendingAgeMs: expect.any(Number) },
      { topic: poisoned, backlog: 1, waiting: 0, retrying: 0, attempts: 0, dead: 1, oldestPendingAgeMs: expect.any(Number) },
    ]);
    expect(json.consumers).toEqual([
      { consumer: 'audit', inboxRows: 0, processing: 0, deadLetters: 1, replayed: 0, oldestDeadLetterAt: expect.any(String) },
      { consumer: 'orders', inboxRows: 2, processing: 1, deadLetters: 1, replayed: 1, oldestDeadLetterAt: expect.any(String) },
      { consumer: 'rewards', inboxRows: 1, processing: 0, deadLetters: 0, replayed: 0, oldestDeadLetterAt: null },
    ]);
    expect(JSON.stringify(json)).not.toContain('duplicate');

    const text = await onceflow(db().url, 'status');
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`${poisoned}\t1\t0\t0\t0\t1\t`);
    expect(text.stdout).toMatch(/\norders\t2\t1\t1\t1\t\d{4}-/);
    expect(text.stdout).toContain('\nrewards\t1\t0\t0\t0\t-\n');
  });

  it('escapes control characters of consumer names in text, and keeps them exact in --json', async () => {
    const evil = 'evil\x1b[2J\nname';
    await insertInboxRows(db(), [{ consumer: evil, dedupKey: 'k' }]);
    const text = await onceflow(db().url, 'status');
    expect(text.stdout).toContain('evil\\x1b[2J\\nname\t1\t');
    expect(text.stdout).not.toContain('\x1b');
    const { json } = await onceflowJson<StatusJson>(db().url, 'status');
    expect(json.consumers.find((c) => c.consumer === evil)).toMatchObject({ inboxRows: 1 });
  });
});

describe('onceflow prune', () => {
  it('deletes old published outbox rows and old inbox rows in batches, keeps the rest, quiet without a terminal', async () => {
    const topic = uniqueName('prune');
    await enqueueKeys(
      db(),
      topic,
      Array.from({ length: 2_300 }, (_, i) => `k${i}`),
    );
    await markPublished(db(), topic, 'k0');
    await insertInboxRows(db(), [
      ...Array.from({ length: 1_500 }, (_, n) => ({ consumer: 'pruned', dedupKey: `old${n + 1}`, daysAgo: 3 })),
      { consumer: 'pruned', dedupKey: 'fresh' },
    ]);

    const kept = await onceflowJson(db().url, 'prune', '--older-than', '1h');
    expect(kept.json).toEqual({ outbox: 0, inbox: 0 });

    const result = await onceflow(
      db().url,
      'prune',
      '--older-than',
      '0ms',
      '--inbox-older-than',
      '2d',
      '--redelivery-horizon',
      '1d',
      '--json',
    );
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({ outbox: 2_299, inbox: 1_500 });
    expect(await countOutbox(db(), { topic })).toBe(1);
    expect(await inboxKeys(db(), 'pruned')).toEqual(['fresh']);

    const text = await onceflow(db().url, 'prune', '--older-than', '0ms');
    expect(text).toEqual({ code: 0, stdout: 'deleted 0 published outbox row(s) and 0 inbox row(s)\n', stderr: '' });
  });

  it('reports progress on a terminal, and none with --json on the same terminal', async () => {
    const topic = uniqueName('tty');
    await enqueueKeys(
      db(),
      topic,
      Array.from({ length: 2_100 }, (_, i) => `k${i}`),
    );
    await markPublished(db(), topic);
    const withTty = await onTerminal(db().url, 'prune', '--older-than', '0ms');
    expect(withTty).toContain('deleted 1000 published outbox row(s)');
    expect(withTty).toContain('deleted 2000 published outbox row(s)');
    expect(withTty).toContain('deleted 2100 published outbox row(s) and 0 inbox row(s)');

    await enqueueKeys(
      db(),
      topic,
      Array.from({ length: 1_100 }, (_, i) => `j${i}`),
    );
    await markPublished(db(), topic);
    const jsonTty = await onTerminal(db().url, 'prune', '--older-than', '0ms', '--json');
    expect(jsonTty).not.toContain('deleted');
    expect(jsonTty).toContain('{"outbox":1100,"inbox":0}');
  });
});
