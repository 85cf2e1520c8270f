import { consumerStatus, pruneInbox } from '@onceflow/consumer';
import type { Dialect } from '@onceflow/core';
import { migrate, migrateCommandFor, migrationSql, migrationStatus, OptionError } from '@onceflow/core';
import { ThreadedKafkaPublisher } from '@onceflow/kafka';
import { outboxStatus, pruneOutbox } from '../admin.ts';
import { runRelayProcess } from '../main.ts';
import { parseDuration, parseFlags, parsePort, parsePositiveInt, UsageError } from './args.ts';
import { commandDatabase, withKnex } from './database.ts';
import type { Output } from './output.ts';
import { print, progressFor } from './output.ts';
import { printable } from './printable.ts';

/** `onceflow migrate`, `migrate --status` and `migrate --sql`. */
export async function migrateCommand(argv: string[], out: Output): Promise<void> {
  const { common, values } = parseFlags(argv, { status: { type: 'boolean' }, sql: { type: 'boolean' }, dialect: { type: 'string' } });
  if (values.status === true && values.sql === true) throw new UsageError('use either --status or --sql, not both');
  const dialectText = values.dialect as string | undefined;
  if (dialectText !== undefined && values.sql !== true) throw new UsageError('--dialect only goes with --sql');
  if (values.sql === true) {
    // The SQL of the URL's server, unless --dialect names one: printing needs no connection.
    const dialect = dialectText === undefined ? commandDatabase(common).dialect : parseDialect(dialectText);
    const all = await migrationSql({ schema: common.schema, dialect });
    print(out, common, { schema: common.schema, migrations: all }, () =>
      all.flatMap((m) => [`-- ${m.name}`, ...m.statements.map((s) => `${s};\n`)]),
    );
    return;
  }
  if (values.status === true) {
    const status = await withKnex(common, (knex) => migrationStatus(knex, { schema: common.schema }), { checkSchema: false });
    print(out, common, status, () => [
      `schema "${status.schema}": version ${status.version ?? 'none'}, this release needs ${status.expectedVersion}`,
      ...status.applied.map((m) => `applied  ${m.name}  ${m.appliedAt?.toISOString() ?? '(recorded by an earlier release)'}`),
      ...status.pending.map((name) => `pending  ${name}`),
      status.pending.length === 0 ? 'nothing to apply' : `run \`${migrateCommandFor(status.schema)}\` to apply the pending migrations`,
    ]);
    return;
  }
  const status = await withKnex(
    common,
    async (knex) => {
      const before = await migrationStatus(knex, { schema: common.schema });
      await migrate(knex, { schema: common.schema });
      const after = await migrationStatus(knex, { schema: common.schema });
      return { ...after, appliedNow: before.pending.filter((name) => !after.pending.includes(name)) };
    },
    { checkSchema: false },
  );
  print(out, common, { schema: status.schema, version: status.version, appliedNow: status.appliedNow }, () => [
    ...status.appliedNow.map((name) => `applied ${name}`),
    `onceflow schema "${status.schema}" is up to date (version ${status.version})`,
  ]);
}

/** The server named by `--dialect`. */
function parseDialect(text: string): Dialect {
  if (text === 'postgres' || text === 'postgresql') return 'postgres';
  if (text === 'mysql' || text === 'mariadb') return 'mysql';
  throw new OptionError('dialect', text, 'postgres, mysql or mariadb');
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
  commandDatabase(common);
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

/** `onceflow status`: the outbox per topic and the inbox per consumer. */
export async function statusCommand(argv: string[], out: Output): Promise<void> {
  const { common } = parseFlags(argv, {});
  const { topics, consumers } = await withKnex(common, async (knex) => ({
    topics: await outboxStatus(knex, { schema: common.schema }),
    consumers: await consumerStatus(knex, { schema: common.schema }),
  }));
  print(out, common, { schema: common.schema, topics, consumers }, () => [
    ...(topics.length === 0
      ? ['outbox: no pending or dead messages']
      : [
          'topic\tbacklog\twaiting\tretrying\tattempts\tdead\toldest_pending_ms',
          ...topics.map(
            (t) =>
              `${printable(t.topic)}\t${t.backlog}\t${t.waiting}\t${t.retrying}\t${t.attempts}\t${t.dead}\t${t.oldestPendingAgeMs ?? '-'}`,
          ),
        ]),
    ...(consumers.length === 0
      ? ['inbox: no consumer has inbox rows or dead letters']
      : [
          'consumer\tinbox_rows\tprocessing\tdead_letters\treplayed\toldest_dead_letter',
          ...consumers.map(
            (c) =>
              `${printable(c.consumer)}\t${c.inboxRows}\t${c.processing}\t${c.deadLetters}\t${c.replayed}\t${c.oldestDeadLetterAt?.toISOString() ?? '-'}`,
          ),
        ]),
  ]);
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
  const horizonText = values['redelivery-horizon'] as string | undefined;
  if (inboxText !== undefined && horizonText === undefined) {
    throw new UsageError('--inbox-older-than needs --redelivery-horizon: the longest time a message can still be redelivered');
  }
  if (inboxText === undefined && horizonText !== undefined) throw new UsageError('--redelivery-horizon only goes with --inbox-older-than');
  const inboxWindow =
    inboxText === undefined
      ? undefined
      : {
          retentionMs: parseDuration('inbox-older-than', inboxText),
          redeliveryHorizonMs: parseDuration('redelivery-horizon', horizonText),
        };
  if (inboxWindow !== undefined && inboxWindow.retentionMs <= inboxWindow.redeliveryHorizonMs) {
    // Rows younger than the horizon are what recognises a redelivered copy as a duplicate.
    throw new UsageError(
      `--inbox-older-than ${inboxText} must be longer than --redelivery-horizon ${horizonText}: inbox rows of messages that can still be redelivered must stay`,
    );
  }
  const progress = progressFor(out, common);
  const result = await withKnex(common, async (knex) => {
    const outbox = await pruneOutbox(knex, {
      schema: common.schema,
      olderThanMs,
      onProgress: (n) => progress.update(`deleted ${n} published outbox row(s)`),
    });
    let inbox = 0;
    if (inboxWindow !== undefined) {
      inbox = await pruneInbox(knex, {
        schema: common.schema,
        ...inboxWindow,
        onProgress: (n) => progress.update(`deleted ${outbox} outbox and ${n} inbox row(s)`),
      });
    }
    return { outbox, inbox };
  }).finally(() => progress.end());
  print(out, common, result, () => [`deleted ${result.outbox} published outbox row(s) and ${result.inbox} inbox row(s)`]);
}
