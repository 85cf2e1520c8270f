import { DeadLetters, pruneInbox } from '@onceflow/consumer';
import { migrate } from '@onceflow/core';
import { createKafka, KafkaPublisher, ThreadedKafkaPublisher } from '@onceflow/kafka';
import type { Knex } from 'knex';
import knexFactory from 'knex';
import { listDead, outboxStatus, pruneOutbox, requeueDead } from '../admin.ts';
import { runRelayProcess } from '../main.ts';
import type { CommonFlags } from './args.ts';
import { parseDuration, parseFlags, parsePort, parsePositiveInt } from './args.ts';

/** Where a command writes its report. */
export interface Output {
  line(text: string): void;
}

async function withKnex<T>(common: CommonFlags, work: (knex: Knex) => Promise<T>): Promise<T> {
  const knex = knexFactory({ client: 'pg', connection: common.databaseUrl, pool: { min: 0, max: 2 } });
  try {
    return await work(knex);
  } finally {
    await knex.destroy();
  }
}

function print(out: Output, common: CommonFlags, value: unknown, table: () => string[]): void {
  if (common.json) out.line(JSON.stringify(value));
  else for (const l of table()) out.line(l);
}

/** `onceflow migrate` */
export async function migrateCommand(argv: string[], out: Output): Promise<void> {
  const { common } = parseFlags(argv, {});
  await withKnex(common, (knex) => migrate(knex, { schema: common.schema }));
  out.line(`onceflow schema "${common.schema}" is up to date`);
}

/**
 * `onceflow relay`: runs until SIGTERM/SIGINT. Records are encoded and sent by a
 * ThreadedKafkaPublisher, beside the main thread that claims and marks outbox rows.
 */
export async function relayCommand(argv: string[]): Promise<void> {
  const { common, values } = parseFlags(argv, {
    concurrency: { type: 'string' },
    'batch-size': { type: 'string' },
    'http-port': { type: 'string' },
    'http-host': { type: 'string' },
  });
  const httpPort = values['http-port'] as string | undefined;
  const httpHost = values['http-host'] as string | undefined;
  const http = httpPort === undefined ? undefined : { port: parsePort(httpPort), ...(httpHost === undefined ? {} : { host: httpHost }) };
  const proc = await runRelayProcess({
    ...(http === undefined ? {} : { http }),
    publisher: new ThreadedKafkaPublisher({ connection: { clientId: 'onceflow-relay' } }),
    databaseUrl: common.databaseUrl,
    schema: common.schema,
    relay: {
      concurrency: parsePositiveInt('concurrency', values.concurrency as string | undefined, 4),
      batchSize: parsePositiveInt('batch-size', values['batch-size'] as string | undefined, 1_000),
    },
  });
  await proc.stopped;
}

/** `onceflow status` */
export async function statusCommand(argv: string[], out: Output): Promise<void> {
  const { common } = parseFlags(argv, {});
  const topics = await withKnex(common, (knex) => outboxStatus(knex, { schema: common.schema }));
  print(out, common, { topics }, () =>
    topics.length === 0
      ? ['no pending or dead messages']
      : [
          'topic\tbacklog\twaiting\tretrying\tattempts\tdead\toldest_pending_ms',
          ...topics.map(
            (t) => `${t.topic}\t${t.backlog}\t${t.waiting}\t${t.retrying}\t${t.attempts}\t${t.dead}\t${t.oldestPendingAgeMs ?? '-'}`,
          ),
        ],
  );
}

/** `onceflow dead list|retry`: dead outbox messages. */
export async function deadCommand(argv: string[], out: Output): Promise<void> {
  const { common, values, positionals } = parseFlags(argv, {
    topic: { type: 'string' },
    key: { type: 'string' },
    limit: { type: 'string' },
    all: { type: 'boolean' },
  });
  const [verb, ...ids] = positionals;
  const topic = values.topic as string | undefined;
  const key = values.key as string | undefined;
  const filter = { ...(topic === undefined ? {} : { topic }), ...(key === undefined ? {} : { key }) };
  if (verb === 'list') {
    const limit = parsePositiveInt('limit', values.limit as string | undefined, 100);
    const dead = await withKnex(common, (knex) => listDead(knex, { schema: common.schema, limit, ...filter }));
    print(out, common, { dead }, () =>
      dead.length === 0
        ? ['no dead messages']
        : dead.map((d) => `${d.id}\t${d.topic}\t${d.key}\tattempts=${d.attempts}\t${d.errors.at(-1)?.error ?? ''}`),
    );
    return;
  }
  if (verb === 'retry') {
    const selection = ids.length > 0 ? ids : { ...filter, all: values.all === true };
    const requeued = await withKnex(common, (knex) => requeueDead(knex, selection, { schema: common.schema }));
    print(out, common, { requeued }, () => [`requeued ${requeued.length} message(s)`]);
    return;
  }
  throw new UsageError(`unknown dead command ${JSON.stringify(verb)}: use "dead list" or "dead retry <id...> | --topic T | --all"`);
}

/** `onceflow dead-letters list|replay`: the consumer's dead letters. */
export async function deadLettersCommand(argv: string[], out: Output): Promise<void> {
  const { common, values, positionals } = parseFlags(argv, { consumer: { type: 'string' }, limit: { type: 'string' } });
  const [verb, ...ids] = positionals;
  if (verb === 'list') {
    const limit = parsePositiveInt('limit', values.limit as string | undefined, 100);
    const consumer = values.consumer as string | undefined;
    const letters = await withKnex(common, (knex) =>
      new DeadLetters({ knex, schema: common.schema }).list({ limit, ...(consumer === undefined ? {} : { consumerName: consumer }) }),
    );
    print(out, common, { deadLetters: letters.map((l) => ({ ...l, value: l.value?.toString('base64') ?? null })) }, () =>
      letters.length === 0
        ? ['no dead letters']
        : letters.map(
            (l) =>
              `${l.id}\t${l.consumerName}\t${l.topic}[${l.partition}]@${l.offset}\tattempts=${l.attempts}\t${l.errors.at(-1)?.message ?? ''}`,
          ),
    );
    return;
  }
  if (verb === 'replay') {
    if (ids.length === 0) throw new UsageError('dead-letters replay needs the ids to replay');
    const publisher = new KafkaPublisher(createKafka({ clientId: 'onceflow-cli' }));
    await publisher.connect();
    try {
      const replayed = await withKnex(common, (knex) => new DeadLetters({ knex, schema: common.schema }).replay(ids, publisher));
      print(out, common, { replayed }, () => [`replayed ${replayed} dead letter(s)`]);
    } finally {
      await publisher.disconnect();
    }
    return;
  }
  throw new UsageError(`unknown dead-letters command ${JSON.stringify(verb)}: use "dead-letters list" or "dead-letters replay <id...>"`);
}

/** `onceflow prune`: removes old published outbox rows and, when asked, old inbox rows. */
export async function pruneCommand(argv: string[], out: Output): Promise<void> {
  const { common, values } = parseFlags(argv, {
    'older-than': { type: 'string' },
    'inbox-older-than': { type: 'string' },
    'redelivery-horizon': { type: 'string' },
  });
  const olderThanMs = parseDuration('older-than', (values['older-than'] as string | undefined) ?? '7d');
  const inboxText = values['inbox-older-than'] as string | undefined;
  const result = await withKnex(common, async (knex) => {
    const outbox = await pruneOutbox(knex, { schema: common.schema, olderThanMs });
    let inbox = 0;
    if (inboxText !== undefined) {
      const horizon = parseDuration('redelivery-horizon', values['redelivery-horizon'] as string | undefined);
      inbox = await pruneInbox(knex, {
        schema: common.schema,
        retentionMs: parseDuration('inbox-older-than', inboxText),
        redeliveryHorizonMs: horizon,
      });
    }
    return { outbox, inbox };
  });
  print(out, common, result, () => [`deleted ${result.outbox} published outbox row(s) and ${result.inbox} inbox row(s)`]);
}

/** A command line that cannot be run as written. */
export class UsageError extends Error {}
