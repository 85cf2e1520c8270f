import { describe, expect, it } from 'vitest';
import { migratedDatabase, onceflow, onceflowJson, onTerminal, tableOf } from './support/cli.ts';
import { uniqueName } from './support/database.ts';
import { createTopic, readTopic, testKafka } from './support/kafka.ts';
import { insertDeadLetters } from './support/seed.ts';

const db = migratedDatabase();

interface LetterJson {
  id: string;
  consumerName: string;
  topic: string;
  key: string | null;
  value: string | null;
  headers: Record<string, string>;
  errors: Array<{ attempt: number; message: string }>;
  replayedAt: string | null;
}

const ids = (letters: LetterJson[]) => letters.map((l) => l.id);

describe('onceflow dead-letters list and show', () => {
  it('lists by consumer with values in base64, shows one with headers and the whole error history', async () => {
    const topic = uniqueName('dl');
    const [a, b, c] = await insertDeadLetters(db(), [
      { consumer: 'orders', topic, key: 'k1', value: '{"n":1}', errors: ['timeout', 'still \x1b[31mred\x1b[0m'] },
      { consumer: 'orders', topic, key: 'k2', value: '{"n":2}' },
      { consumer: 'audit', topic, key: 'k\n3', value: 'v', headers: { 'x-evil\x07': 'h\r' } },
    ]);
    const all = (await onceflowJson<{ deadLetters: LetterJson[] }>(db().url, 'dead-letters', 'list')).json.deadLetters;
    expect(ids(all)).toEqual([a, b, c]);
    expect(all[0]?.value).toBe(Buffer.from('{"n":1}').toString('base64'));
    const orders = (await onceflowJson<{ deadLetters: LetterJson[] }>(db().url, 'dead-letters', 'list', '--consumer', 'orders')).json;
    expect(ids(orders.deadLetters)).toEqual([a, b]);
    const limited = (await onceflowJson<{ deadLetters: LetterJson[] }>(db().url, 'dead-letters', 'list', '--limit', '1')).json;
    expect(ids(limited.deadLetters)).toEqual([a]);

    const shown = (await onceflowJson<{ deadLetter: LetterJson }>(db().url, 'dead-letters', 'show', a as string)).json.deadLetter;
    expect(shown).toMatchObject({ id: a, consumerName: 'orders', topic, key: 'k1', replayedAt: null });
    expect(shown.errors.map((e) => [e.attempt, e.message])).toEqual([
      [1, 'timeout'],
      [2, 'still \x1b[31mred\x1b[0m'],
    ]);
    const text = await onceflow(db().url, 'dead-letters', 'show', a as string);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('errors (2, oldest first):\n  #1 2026-01-01T00:00:00.000Z Error: timeout\n');
    expect(text.stdout).toContain('  #2 2026-01-01T00:00:01.000Z Error: still \\x1b[31mred\\x1b[0m\n');
    expect(text.stdout).toContain('value        7 bytes: {"n":1}\n');

    const evil = await onceflow(db().url, 'dead-letters', 'show', c as string);
    expect(evil.stdout).toContain('key          k\\n3\n');
    expect(evil.stdout).toContain('  x-evil\\x07: h\\r\n');
    const listed = await onceflow(db().url, 'dead-letters', 'list', '--consumer', 'audit');
    expect(listed.stdout).toBe(`${c}\taudit\t${topic}[0]@2\tattempts=1\thandler failed\n`);

    const missing = await onceflow(db().url, 'dead-letters', 'show', '999999');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe('onceflow: Dead letter 999999: no such dead letter [ONCEFLOW_NOT_FOUND]\n');
  });
});

describe('onceflow dead-letters replay', () => {
  it('publishes dead letters again to their topic by id and by consumer, and marks them replayed', async () => {
    const kafka = testKafka();
    const topic = uniqueName('replay');
    await createTopic(kafka, topic);
    const consumer = uniqueName('replayer');
    const [first, second, third] = await insertDeadLetters(db(), [
      { consumer, topic, key: 'k1', value: 'one', headers: { 'onceflow-id': 'm1' } },
      { consumer, topic, key: 'k2', value: 'two' },
      { consumer, topic, key: 'k3', value: 'three' },
    ]);

    const one = await onceflowJson(db().url, 'dead-letters', 'replay', first as string);
    expect(one.json).toEqual({ replayed: 1 });
    const again = await onceflow(db().url, 'dead-letters', 'replay', first as string);
    expect(again.code).toBe(1);
    expect(again.stderr).toBe(`onceflow: Dead letter ${first}: no such dead letter, or it was replayed already [ONCEFLOW_NOT_FOUND]\n`);

    const rest = await onceflowJson(db().url, 'dead-letters', 'replay', '--consumer', consumer);
    expect(rest.json).toEqual({ replayed: 2 });
    expect(rest.stderr).toBe('');

    const records = await readTopic(kafka, topic, 3);
    expect(records.map((r) => [r.key, r.value])).toEqual([
      ['k1', 'one'],
      ['k2', 'two'],
      ['k3', 'three'],
    ]);
    expect(records[0]?.headers['onceflow-id']).toBe('m1');

    const waiting = (await onceflowJson<{ deadLetters: LetterJson[] }>(db().url, 'dead-letters', 'list', '--consumer', consumer)).json;
    expect(waiting.deadLetters).toEqual([]);
    const history = (
      await onceflowJson<{ deadLetters: LetterJson[] }>(db().url, 'dead-letters', 'list', '--consumer', consumer, '--replayed')
    ).json;
    expect(ids(history.deadLetters)).toEqual([first, second, third]);
    expect(history.deadLetters.every((l) => typeof l.replayedAt === 'string')).toBe(true);
  });

  it('replays many with progress on a terminal', async () => {
    const kafka = testKafka();
    const topic = uniqueName('many');
    await createTopic(kafka, topic);
    const consumer = uniqueName('many');
    await insertDeadLetters(
      db(),
      Array.from({ length: 250 }, (_, i) => ({ consumer, topic, key: `k${i}`, value: `v${i}`, offset: i })),
    );
    const shown = await onTerminal(db().url, 'dead-letters', 'replay', '--consumer', consumer);
    expect(shown).toContain('\r\x1b[Kreplayed 100 dead letter(s)');
    expect(shown).toContain('\r\x1b[Kreplayed 200 dead letter(s)');
    expect(shown).toContain('replayed 250 dead letter(s)');
    expect(await readTopic(kafka, topic, 250)).toHaveLength(250);
  });
});

describe('onceflow dead-letters purge', () => {
  it('deletes by id, by consumer and --all, replayed or not', async () => {
    await db().knex.raw(`truncate table ${tableOf(db(), 'dead_letters')}`);
    const topic = uniqueName('purge');
    const [a] = await insertDeadLetters(db(), [
      { consumer: 'p1', topic, key: 'a', value: 'a' },
      { consumer: 'p1', topic, key: 'b', value: 'b', replayed: true },
      { consumer: 'p2', topic, key: 'c', value: 'c' },
      { consumer: 'p3', topic, key: 'd', value: 'd' },
    ]);
    expect((await onceflowJson(db().url, 'dead-letters', 'purge', a as string)).json).toEqual({ purged: 1 });
    expect((await onceflowJson(db().url, 'dead-letters', 'purge', '--consumer', 'p1')).json).toEqual({ purged: 1 });
    const left = (await onceflowJson<{ deadLetters: LetterJson[] }>(db().url, 'dead-letters', 'list', '--replayed')).json;
    expect(left.deadLetters.map((l) => l.consumerName)).toEqual(['p2', 'p3']);
    const all = await onceflow(db().url, 'dead-letters', 'purge', '--all');
    expect(all).toEqual({ code: 0, stdout: 'purged 2 dead letter(s)\n', stderr: '' });
    const none = (await onceflowJson<{ deadLetters: LetterJson[] }>(db().url, 'dead-letters', 'list', '--replayed')).json;
    expect(none.deadLetters).toEqual([]);
    const bad = await onceflow(db().url, 'dead-letters', 'purge', 'x1');
    expect(bad.code).toBe(2);
  });
});
