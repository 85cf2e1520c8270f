import type { Publisher } from '@onceflow/core';
import { OptionError } from '@onceflow/core';
import type { Knex } from 'knex';
import { describe, expect, it } from 'vitest';
import type { RelayOptions } from './options.ts';
import { resolveRelayOptions } from './options.ts';

// A stand-in knex: the relay reads its client's name (the dialect) and nothing else here.
const knex = Object.assign(() => undefined, { raw: () => undefined, client: { config: { client: 'pg' } } }) as unknown as Knex;
const publisher: Publisher = { connect: async () => {}, publish: async () => {}, disconnect: async () => {} };

function optionError(options: Partial<RelayOptions>): OptionError {
  try {
    resolveRelayOptions({ knex, publisher, ...options } as RelayOptions);
  } catch (error) {
    if (error instanceof OptionError) return error;
    throw error;
  }
  throw new Error('expected an OptionError');
}

describe('resolveRelayOptions', () => {
  it('applies defaults', () => {
    const o = resolveRelayOptions({ knex, publisher });
    expect(o).toMatchObject({
      batchSize: 1_000,
      concurrency: 4,
      pollIntervalMs: 1_000,
      leaseMs: 15_000,
      maxAttempts: 10,
      minBackoffMs: 500,
      maxBackoffMs: 60_000,
      onDead: 'skip',
      listen: true,
      retentionMs: 604_800_000,
      pruneIntervalMs: 60_000,
      pruneBatchSize: 1_000,
    });
    expect(o.tables.outbox).toBe('"onceflow"."outbox"');
    expect(o.tables.channel).toBe('onceflow_onceflow');
    expect(o.relayId).toMatch(/-\d+-[a-z0-9]+$/);
  });

  it('keeps given values', () => {
    const o = resolveRelayOptions({ knex, publisher, schema: 'billing', relayId: 'r1', batchSize: 5, onDead: 'block', listen: false });
    expect(o).toMatchObject({ relayId: 'r1', batchSize: 5, onDead: 'block', listen: false });
    expect(o.tables.relayShards).toBe('"billing"."relay_shards"');
  });

  it('quotes the tables for the dialect of knex, and refuses a client Onceflow does not speak', () => {
    const mysql = Object.assign(() => undefined, { raw: () => undefined, client: { config: { client: 'mysql2' } } }) as unknown as Knex;
    expect(resolveRelayOptions({ knex: mysql, publisher, schema: 'billing' }).tables.outbox).toBe('`billing`.`outbox`');
    const sqlite = Object.assign(() => undefined, { raw: () => undefined, client: { config: { client: 'sqlite3' } } }) as unknown as Knex;
    const error = optionError({ knex: sqlite });
    expect(error.option).toBe('knex');
    expect(error.message).toContain('sqlite3');
  });

  it.each([
    [{ batchSize: 0 }, 'batchSize', '0'],
    [{ batchSize: 1.5 }, 'batchSize', '1.5'],
    [{ concurrency: 1_000 }, 'concurrency', '1000'],
    [{ leaseMs: 10 }, 'leaseMs', '10'],
    [{ maxAttempts: 0 }, 'maxAttempts', '0'],
    [{ onDead: 'drop' }, 'onDead', '"drop"'],
    [{ listen: 'yes' }, 'listen', '"yes"'],
    [{ schema: 'Bad-Schema' }, 'schema', '"Bad-Schema"'],
    [{ relayId: '' }, 'relayId', '""'],
    [{ minBackoffMs: 500, maxBackoffMs: 100 }, 'maxBackoffMs', '100'],
    [{ retentionMs: -1 }, 'retentionMs', '-1'],
    [{ listenConnection: 42 }, 'listenConnection', '42'],
    [{ knex: {} }, 'knex', 'an object (Object)'],
    [{ publisher: undefined }, 'publisher', 'undefined'],
  ])('refuses %o naming the option and value', (options, option, value) => {
    const error = optionError(options as Partial<RelayOptions>);
    expect(error.option).toBe(option);
    expect(error.value).toBe(value);
    expect(error.message).toContain(option);
  });
});
