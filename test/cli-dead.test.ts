import { purgeDead } from '@onceflow/relay';
import { describe, expect, it } from 'vitest';
import { migratedDatabase, onceflow, onceflowJson, onTerminal } from './support/cli.ts';
import { uniqueName } from './support/database.ts';
import { countOutbox, enqueueKeys, markDead, outboxAttempts, outboxStatuses, setOutboxKey } from './support/seed.ts';

const db = migratedDatabase();

interface DeadJson {
  id: string;
  topic: string;
  key: string;
  attempts: number;
  errors: Array<{ attempt: number; at: string; error: string; code?: string }>;
}

const statusOf = (ids: readonly string[]): Promise<string[]> => outboxStatuses(db(), ids);

describe('onceflow dead list and show', () => {
  it('lists dead messages with their last error and shows one with its whole history', async () => {
    const topic = uniqueName('dead');
    const ids = await enqueueKeys(db(), topic, ['a', 'b', 'live']);
    await markDead(db(), ids.slice(0, 2), ['first failure', 'second failure', 'third failure']);

    const list = (await onceflowJson<{ dead: DeadJson[] }>(db().url, 'dead', 'list', '--topic', topic)).json.dead;
    expect(list.map((d) => [d.id, d.key, d.attempts])).toEqual([
      [ids[0], 'a', 3],
      [ids[1], 'b', 3],
    ]);
    const limited = (await onceflowJson<{ dead: DeadJson[] }>(db().url, 'dead', 'list', '--topic', topic, '--limit', '1')).json.dead;
    expect(limited.map((d) => d.id)).toEqual([ids[0]]);
    const byKey = (await onceflowJson<{ dead: DeadJson[] }>(db().url, 'dead', 'list', '--topic', topic, '--key', 'b')).json.dead;
    expect(byKey.map((d) => d.id)).toEqual([ids[1]]);

    const shown = (await onceflowJson<{ dead: DeadJson }>(db().url, 'dead', 'show', ids[0] as string)).json.dead;
    expect(shown).toMatchObject({ id: ids[0], topic, key: 'a', attempts: 3 });
    expect(shown.errors.map((e) => [e.attempt, e.error, e.code])).toEqual([
      [1, 'first failure', 'E_TEST'],
      [2, 'second failure', 'E_TEST'],
      [3, 'third failure', 'E_TEST'],
    ]);
    const text = await onceflow(db().url, 'dead', 'show', ids[0] as string);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('errors (3, oldest first):\n  #1 2026-01-01T00:00:00.000Z [E_TEST] first failure\n');
    expect(text.stdout).toContain('  #3 2026-01-01T00:00:02.000Z [E_TEST] third failure\n');

    const missing = await onceflow(db().url, 'dead', 'show', ids[2] as string);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(`onceflow: Dead message ${ids[2]}: no dead message has this id [ONCEFLOW_NOT_FOUND]\n`);
    const malformed = await onceflow(db().url, 'dead', 'show', 'not-a-uuid');
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toContain('Invalid option id');
  });

  it('escapes control characters in keys and errors in text output, and keeps them exact in --json', async () => {
    const topic = uniqueName('evil');
    const [id] = await enqueueKeys(db(), topic, ['k']);
    const key = 'order\x1b[2J\r\n42\u202e';
    await setOutboxKey(db(), id as string, key);
    await markDead(db(), [id as string], ['broker said \x1b]0;owned\x07 no']);
    for (const args of [
      ['dead', 'list', '--topic', topic],
      ['dead', 'show', id as string],
    ]) {
      const text = await onceflow(db().url, ...args);
      expect(text.code).toBe(0);
      expect(text.stdout).toContain('order\\x1b[2J\\r\\n42\\u{202e}');
      expect(text.stdout).toContain('broker said \\x1b]0;owned\\x07 no');
      for (const raw of ['\x1b', '\x07', '\r', '\u202e']) expect(text.stdout).not.toContain(raw);
    }
    const { json } = await onceflowJson<{ dead: DeadJson }>(db().url, 'dead', 'show', id as string);
    expect(json.dead.key).toBe(key);
    expect(json.dead.errors[0]?.error).toBe('broker said \x1b]0;owned\x07 no');
  });
});

describe('onceflow dead retry and purge', () => {
  it('retries by id and by topic, making the messages pending with a fresh attempt budget', async () => {
    const topic = uniqueName('retry');
    const ids = await enqueueKeys(db(), topic, ['a', 'b', 'c']);
    await markDead(db(), ids, ['boom']);
    const one = await onceflowJson<{ requeued: string[] }>(db().url, 'dead', 'retry', ids[1] as string);
    expect(one.json.requeued).toEqual([ids[1]]);
    expect(await statusOf(ids)).toEqual(['dead', 'pending', 'dead']);
    const rest = await onceflowJson<{ requeued: string[] }>(db().url, 'dead', 'retry', '--topic', topic);
    expect(rest.json.requeued).toEqual([ids[0], ids[2]]);
    expect(rest.stderr).toBe('');
    expect(await outboxAttempts(db(), ids)).toEqual(ids.map(() => ({ attempts: 0, history: 1 })));
    const text = await onceflow(db().url, 'dead', 'retry', '--topic', topic);
    expect(text).toEqual({ code: 0, stdout: 'requeued 0 message(s)\n', stderr: '' });
  });

  it('retries --all in batches with progress on a terminal', async () => {
    const topic = uniqueName('many');
    const ids = await enqueueKeys(
      db(),
      topic,
      Array.from({ length: 1_500 }, (_, i) => `k${i}`),
    );
    await markDead(db(), ids, ['boom']);
    // --all also takes the dead messages earlier tests of this file left.
    const dead = await countOutbox(db(), { status: 'dead' });
    expect(dead).toBeGreaterThanOrEqual(1_500);
    const shown = await onTerminal(db().url, 'dead', 'retry', '--all');
    expect(shown).toContain('\r\x1b[Krequeued 1000 message(s)');
    expect(shown).toContain(`\r\x1b[Krequeued ${dead} message(s)`);
    expect(shown).toContain(`\nrequeued ${dead} message(s)`);
    expect(new Set(await statusOf(ids))).toEqual(new Set(['pending']));
  });

  it('purges dead messages by id, by topic and key, and --all, never pending ones', async () => {
    const topic = uniqueName('purge');
    const other = uniqueName('purge');
    const ids = await enqueueKeys(db(), topic, ['a', 'b', 'c', 'live']);
    const otherIds = await enqueueKeys(db(), other, ['x', 'y']);
    await markDead(db(), [...ids.slice(0, 3), ...otherIds], ['boom']);

    expect((await onceflowJson(db().url, 'dead', 'purge', ids[0] as string)).json).toEqual({ purged: 1 });
    expect((await onceflowJson(db().url, 'dead', 'purge', '--topic', topic, '--key', 'b')).json).toEqual({ purged: 1 });
    expect(await statusOf(ids)).toEqual(['dead', 'pending']);
    const all = await onceflowJson(db().url, 'dead', 'purge', '--all');
    expect(all.json).toEqual({ purged: 3 });
    expect(await statusOf([...ids, ...otherIds])).toEqual(['pending']);
    const text = await onceflow(db().url, 'dead', 'purge', '--all');
    expect(text).toEqual({ code: 0, stdout: 'purged 0 message(s)\n', stderr: '' });
  });

  it('purges in bounded batches (purgeDead, the function behind the command)', async () => {
    const topic = uniqueName('batch');
    const ids = await enqueueKeys(
      db(),
      topic,
      Array.from({ length: 7 }, (_, i) => `k${i}`),
    );
    await markDead(db(), ids, ['boom']);
    const progress: number[] = [];
    expect(await purgeDead(db().knex, { topic }, { schema: db().schema, batchSize: 3, onProgress: (n) => progress.push(n) })).toBe(7);
    expect(progress).toEqual([3, 6, 7]);
  });
});
