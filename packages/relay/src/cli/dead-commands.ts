import type { DeadLetter } from '@onceflow/consumer';
import { DeadLetters } from '@onceflow/consumer';
import { createKafka, KafkaPublisher } from '@onceflow/kafka';
import type { DeadMessage } from '../dead-admin.ts';
import { getDead, listDead, purgeDead, requeueDead } from '../dead-admin.ts';
import { parseFlags, parsePositiveInt, UsageError } from './args.ts';
import { withKnex } from './database.ts';
import type { Output } from './output.ts';
import { print, progressFor } from './output.ts';
import { printable } from './printable.ts';

/** `onceflow dead list|show|retry|purge`: dead outbox messages. */
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
  const schema = common.schema;
  if (verb === 'list') {
    const limit = parsePositiveInt('limit', values.limit as string | undefined, 100);
    const dead = await withKnex(common, (knex) => listDead(knex, { schema, limit, ...filter }));
    print(out, common, { dead }, () =>
      dead.length === 0
        ? ['no dead messages']
        : dead.map(
            (d) =>
              `${d.id}\t${printable(d.topic)}\t${printable(d.key)}\tattempts=${d.attempts}\t${printable(d.errors.at(-1)?.message ?? '')}`,
          ),
    );
    return;
  }
  if (verb === 'show') {
    const id = single('dead show', ids);
    const dead = await withKnex(common, (knex) => getDead(knex, id, { schema }));
    print(out, common, { dead }, () => showDead(dead));
    return;
  }
  if (verb === 'retry' || verb === 'purge') {
    const selection = selectionOf(`dead ${verb}`, ids, filter, values.all === true, '--topic T, --key K');
    const progress = progressFor(out, common);
    const done = verb === 'retry' ? 'requeued' : 'purged';
    const onProgress = (n: number) => progress.update(`${done} ${n} message(s)`);
    if (verb === 'retry') {
      const requeued = await withKnex(common, (knex) => requeueDead(knex, selection, { schema, onProgress })).finally(() => progress.end());
      print(out, common, { requeued }, () => [`requeued ${requeued.length} message(s)`]);
    } else {
      const purged = await withKnex(common, (knex) => purgeDead(knex, selection, { schema, onProgress })).finally(() => progress.end());
      print(out, common, { purged }, () => [`purged ${purged} message(s)`]);
    }
    return;
  }
  throw new UsageError(
    verb === undefined
      ? 'dead needs a subcommand: list, show, retry or purge'
      : `unknown dead command ${JSON.stringify(verb)}: use dead list, show, retry or purge`,
  );
}

/** `onceflow dead-letters list|show|replay|purge`: the consumers' dead letters. */
export async function deadLettersCommand(argv: string[], out: Output): Promise<void> {
  const { common, values, positionals } = parseFlags(argv, {
    consumer: { type: 'string' },
    limit: { type: 'string' },
    all: { type: 'boolean' },
    replayed: { type: 'boolean' },
  });
  const [verb, ...ids] = positionals;
  const consumer = values.consumer as string | undefined;
  const byConsumer = consumer === undefined ? {} : { consumerName: consumer };
  const letters = (knex: Parameters<Parameters<typeof withKnex>[1]>[0]) => new DeadLetters({ knex, schema: common.schema });
  if (verb === 'list') {
    const limit = parsePositiveInt('limit', values.limit as string | undefined, 100);
    const list = await withKnex(common, (knex) => letters(knex).list({ limit, ...byConsumer, includeReplayed: values.replayed === true }));
    print(out, common, { deadLetters: list.map(deadLetterJson) }, () =>
      list.length === 0
        ? ['no dead letters']
        : list.map(
            (l) =>
              `${l.id}\t${printable(l.consumerName)}\t${printable(l.topic)}[${l.partition}]@${l.offset}\tattempts=${l.attempts}\t${printable(l.errors.at(-1)?.message ?? '')}`,
          ),
    );
    return;
  }
  if (verb === 'show') {
    const id = single('dead-letters show', ids);
    const letter = await withKnex(common, (knex) => letters(knex).get(id));
    print(out, common, { deadLetter: deadLetterJson(letter) }, () => showDeadLetter(letter));
    return;
  }
  if (verb === 'replay' || verb === 'purge') {
    const selection = selectionOf(`dead-letters ${verb}`, ids, byConsumer, values.all === true, '--consumer C');
    const progress = progressFor(out, common);
    const onProgress = (n: number) => progress.update(`${verb === 'replay' ? 'replayed' : 'purged'} ${n} dead letter(s)`);
    if (verb === 'purge') {
      const purged = await withKnex(common, (knex) => letters(knex).purge(selection, { onProgress })).finally(() => progress.end());
      print(out, common, { purged }, () => [`purged ${purged} dead letter(s)`]);
      return;
    }
    const replayed = await withKnex(common, async (knex) => {
      const publisher = new KafkaPublisher(createKafka({ clientId: 'onceflow-cli' }));
      await publisher.connect();
      try {
        return ids.length > 0
          ? await letters(knex).replay(ids, publisher)
          : await letters(knex).replayAll({ ...byConsumer, all: values.all === true }, publisher, { onProgress });
      } finally {
        await publisher.disconnect();
      }
    }).finally(() => progress.end());
    print(out, common, { replayed }, () => [`replayed ${replayed} dead letter(s)`]);
    return;
  }
  throw new UsageError(
    verb === undefined
      ? 'dead-letters needs a subcommand: list, show, replay or purge'
      : `unknown dead-letters command ${JSON.stringify(verb)}: use dead-letters list, show, replay or purge`,
  );
}

function single(command: string, ids: string[]): string {
  const [id, ...more] = ids;
  if (id === undefined || more.length > 0) throw new UsageError(`${command} needs exactly one id`);
  return id;
}

/** Ids, or a filter, or --all: exactly one way of naming what a bulk command acts on. */
function selectionOf<F extends object>(
  command: string,
  ids: string[],
  filter: F,
  all: boolean,
  filters: string,
): readonly string[] | (F & { all: boolean }) {
  const filtered = Object.keys(filter).length > 0;
  if (ids.length > 0 && (filtered || all)) throw new UsageError(`${command}: give ids, or ${filters} or --all, not both`);
  if (ids.length === 0 && !filtered && !all) throw new UsageError(`${command} needs ids, ${filters}, or --all`);
  return ids.length > 0 ? ids : { ...filter, all };
}

function showDead(d: DeadMessage): string[] {
  return [
    `id               ${d.id}`,
    `seq              ${d.seq}`,
    `topic            ${printable(d.topic)}`,
    `key              ${printable(d.key)}`,
    `idempotency key  ${printable(d.idempotencyKey)}`,
    `type             ${printable(d.type ?? '-')}`,
    `attempts         ${d.attempts}`,
    `created at       ${d.createdAt.toISOString()}`,
    `dead at          ${d.deadAt.toISOString()}`,
    `errors (${d.errors.length}, oldest first):`,
    ...d.errors.map(
      (e) => `  #${e.attempt} ${printable(String(e.at))}${e.code === undefined ? '' : ` [${printable(e.code)}]`} ${printable(e.message)}`,
    ),
  ];
}

function showDeadLetter(l: DeadLetter): string[] {
  const value = l.value === null ? '(null)' : `${l.value.length} bytes: ${printable(l.value.toString('utf8').slice(0, 2_000))}`;
  return [
    `id           ${l.id}`,
    `consumer     ${printable(l.consumerName)}`,
    `record       ${printable(l.topic)}[${l.partition}]@${l.offset}`,
    `key          ${l.key === null ? '(null)' : printable(l.key)}`,
    `dedup key    ${l.dedupKey === null ? '(none)' : printable(l.dedupKey)}`,
    `attempts     ${l.attempts}`,
    `parked at    ${l.createdAt.toISOString()}`,
    `replayed at  ${l.replayedAt?.toISOString() ?? '-'}`,
    `headers:`,
    ...Object.entries(l.headers).map(([k, v]) => `  ${printable(k)}: ${printable(String(v))}`),
    `value        ${value}`,
    `errors (${l.errors.length}, oldest first):`,
    ...l.errors.map(
      (e) =>
        `  #${e.attempt} ${printable(String(e.at))}${e.name === undefined ? '' : ` ${printable(e.name)}`}${e.code === undefined ? '' : ` [${printable(e.code)}]`}: ${printable(e.message)}`,
    ),
  ];
}

/** A dead letter for `--json`: the value as base64, since it may be any bytes. */
function deadLetterJson(l: DeadLetter) {
  return { ...l, value: l.value?.toString('base64') ?? null };
}
