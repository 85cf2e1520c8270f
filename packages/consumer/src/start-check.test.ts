import type { StartPosition, Subscriber } from '@onceflow/core';
import { ErrorCodes, StartPositionError, silentLogger } from '@onceflow/core';
import knexFactory from 'knex';
import { describe, expect, it } from 'vitest';
import { resolveInboxOptions } from './inbox-options.ts';
import type { ConsumerHistory } from './sql/select-history.ts';
import { checkStartPosition, decideStart, newGroupError } from './start-check.ts';

const none: ConsumerHistory = { inboxRows: false, deadLetters: false, pruned: false };
const position: StartPosition = { groupId: 'rewards-v2', topics: ['orders.paid', 'orders.refunded'], committed: false, chosen: undefined };

describe('decideStart', () => {
  it('resumes a group with committed offsets, whatever the history and the choice', () => {
    const all: ConsumerHistory = { inboxRows: true, deadLetters: true, pruned: true };
    expect(decideStart({ committed: true, chosen: undefined }, all)).toEqual({ kind: 'resume' });
    expect(decideStart({ committed: true, chosen: 'latest' }, none)).toEqual({ kind: 'resume' });
  });

  it('lets a new group start where the user chose, also over history', () => {
    const history: ConsumerHistory = { inboxRows: true, deadLetters: false, pruned: true };
    for (const chosen of ['earliest', 'latest', new Date(0)] as const) {
      expect(decideStart({ committed: false, chosen }, history)).toEqual({ kind: 'chosen' });
    }
  });

  it("starts a consumer name's first run from the default", () => {
    expect(decideStart({ committed: false, chosen: undefined }, none)).toEqual({ kind: 'first-run' });
  });

  it('refuses a new group without a choice over any kind of history, naming each', () => {
    const refuse = (history: Partial<ConsumerHistory>) => decideStart({ committed: false, chosen: undefined }, { ...none, ...history });
    expect(refuse({ inboxRows: true })).toEqual({ kind: 'refuse', evidence: ['inbox rows'] });
    expect(refuse({ deadLetters: true })).toEqual({ kind: 'refuse', evidence: ['dead letters'] });
    expect(refuse({ pruned: true })).toEqual({ kind: 'refuse', evidence: ['inbox rows removed by retention'] });
    expect(refuse({ inboxRows: true, deadLetters: true, pruned: true })).toMatchObject({ evidence: { length: 3 } });
  });
});

describe('decideStart and the group note', () => {
  const history: ConsumerHistory = { inboxRows: true, deadLetters: false, pruned: false };
  const fresh = { committed: false, chosen: undefined, groupId: 'rewards' } as const;

  it('lets the group that wrote the history, and never committed, read again from the default', () => {
    expect(decideStart(fresh, { ...history, group: { group: 'rewards', committed: false } })).toEqual({ kind: 'rerun' });
  });

  it('refuses that group when retention removed rows meanwhile: the re-read would re-apply them', () => {
    expect(decideStart(fresh, { ...history, pruned: true, group: { group: 'rewards', committed: false } })).toMatchObject({
      kind: 'refuse',
    });
  });

  it('refuses that group once it had committed (Kafka expired its offsets), and any other group', () => {
    expect(decideStart(fresh, { ...history, group: { group: 'rewards', committed: true } })).toMatchObject({ kind: 'refuse' });
    expect(decideStart(fresh, { ...history, group: { group: 'rewards-old', committed: false } })).toMatchObject({ kind: 'refuse' });
  });
});

describe('newGroupError', () => {
  it('names the consumer, the group, the topics, the evidence and the three choices', () => {
    const error = newGroupError('rewards', position, ['inbox rows removed by retention']);
    expect(error).toBeInstanceOf(StartPositionError);
    expect(error.code).toBe(ErrorCodes.startPosition);
    expect(error.retriable).toBe(false);
    expect(error).toMatchObject({ consumerName: 'rewards', groupId: 'rewards-v2', topics: ['orders.paid', 'orders.refunded'] });
    for (const part of [
      '"rewards"',
      '"rewards-v2"',
      'orders.paid, orders.refunded',
      'removed by retention',
      "'earliest'",
      "'latest'",
      'start time',
    ]) {
      expect(error.message).toContain(part);
    }
  });
});

describe('checkStartPosition', () => {
  // A knex that fails on any query: the database must not be asked when the answer is known.
  const inbox = resolveInboxOptions({
    knex: knexFactory({ client: 'pg', connection: 'postgres://nobody@127.0.0.1:1/none' }),
    consumerName: 'rewards',
  });
  const subscriber = (answer: Partial<StartPosition> | undefined): Subscriber => ({
    start: async () => undefined,
    stop: async () => undefined,
    ...(answer === undefined ? {} : { startPosition: async () => ({ ...position, ...answer }) }),
  });

  it('skips subscribers that cannot tell, and groups that resume or have a choice, without asking the database', async () => {
    await expect(checkStartPosition(subscriber(undefined), inbox, silentLogger)).resolves.toBeUndefined();
    await expect(checkStartPosition(subscriber({ committed: true }), inbox, silentLogger)).resolves.toBeUndefined();
    await expect(checkStartPosition(subscriber({ chosen: 'latest' }), inbox, silentLogger)).resolves.toBeUndefined();
  });
});
