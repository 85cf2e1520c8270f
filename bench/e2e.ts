// `pnpm bench e2e [--db postgres|mariadb] [--rate R] [--seconds S] [--lanes L] [--thread 0|1]`: a steady R msgs/s for S seconds through
// the whole path (producer transaction → outbox → relay → Kafka → InboxConsumer → handler commit),
// once with LISTEN/NOTIFY waking the relay and once with polling only (on MariaDB, which has no
// LISTEN/NOTIFY: polling only). The producer runs here; the
// relay (with at most L lanes: its `concurrency`, default the Relay's default of 4) and the consumer
// each run in a process of their own. The relay publishes with a KafkaPublisher on its own thread
// (`--thread 1`: through a ThreadedKafkaPublisher, as `onceflow relay` does; its extra thread
// costs CPU that the other processes on a small machine miss). Latency runs from
// the producer's commit to the handler's commit, both read from this machine's wall clock.
// The baseline, in the same run and at the same rate, is the direct way with no guarantees: the
// producer commits a row of its own and then sends the record itself with a bare kafkajs
// producer (a dual write: lost if the process dies in between), and a bare kafkajs consumer
// writes the same effect row with no inbox (kafkajs defaults otherwise). It is the floor this
// machine sets for any database → Kafka → database path at that rate.
// Last line: JSON with p50/p95/p99/max for the runs, and ours over the baseline's.

import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { migrate } from '@onceflow/core';
import { createKafka, defaultBrokers } from '@onceflow/kafka';
import { OutboxWriter } from '@onceflow/producer';
import type { BenchDb } from './database.ts';
import { benchDatabase, connectUrl, takeDbArg } from './database.ts';

interface Args {
  rate: number;
  seconds: number;
  /** The relay's `concurrency`. */
  lanes: number;
  /** 1: the relay publishes through a ThreadedKafkaPublisher, 0: a KafkaPublisher on its own thread. */
  thread: number;
}

interface Latency {
  p50_ms: number;
  p95_ms: number;
  p99_ms: number;
  max_ms: number;
  /** Producer commit → record sent by the relay (the record's Kafka timestamp). */
  relay_p50_ms: number;
  relay_p99_ms: number;
  /** Record sent → handler committed (Kafka, the consumer and its transaction). */
  consumer_p50_ms: number;
  consumer_p99_ms: number;
  messages: number;
}

function parseArgs(args: string[]): Args {
  const out: Args = { rate: 1_000, seconds: 60, lanes: 4, thread: 0 };
  for (let i = 0; i < args.length; i += 2) {
    const name = args[i]?.replace(/^--/, '') as keyof Args;
    const value = Number(args[i + 1]);
    const valid = name === 'thread' ? value === 0 || value === 1 : Number.isInteger(value) && value >= 1;
    if (!(name in out) || !valid) {
      throw new Error(`usage: pnpm bench e2e [--rate R] [--seconds S] [--lanes L] [--thread 0|1]; got ${args.join(' ')}`);
    }
    out[name] = value;
  }
  return out;
}

const log = (line: string) => process.stderr.write(`${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts bench/e2e-worker.ts; `ready` resolves once it runs. */
function startWorker(args: string[], onLine: (line: string) => void): { child: ChildProcess; ready: Promise<void> } {
  const script = fileURLToPath(new URL('./e2e-worker.ts', import.meta.url));
  const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let ready: () => void = () => undefined;
  const readyPromise = new Promise<void>((resolve) => {
    ready = resolve;
  });
  createInterface({ input: child.stdout as NonNullable<typeof child.stdout> }).on('line', (line) => {
    if (line === 'ready') ready();
    else onLine(line);
  });
  return { child, ready: readyPromise };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return Math.round((sorted[Math.max(0, index)] as number) * 100) / 100;
}

/** `listen`/`poll`: through Onceflow with or without LISTEN/NOTIFY; `direct`: the baseline. */
type Mode = 'listen' | 'poll' | 'direct';

async function runOnce(args: Args, mode: Mode, dbKind: BenchDb): Promise<Latency> {
  const db = await benchDatabase(dbKind, 24);
  const { knex, url } = db;
  const kafka = createKafka({ brokers: defaultBrokers(), clientId: 'bench-e2e', retries: 8 });
  const topic = `bench_e2e_${randomBytes(4).toString('hex')}`;
  const committedAt = new Map<string, number>();
  const latencies: number[] = [];
  const relayPart: number[] = [];
  const consumerPart: number[] = [];
  /** Lines of messages handled before this process ran their commit callback, by id. */
  const early = new Map<string, string>();
  let earlyCount = 0;
  const workers: ChildProcess[] = [];
  const wakeKnex = connectUrl(url, 2).knex;
  // The baseline's producer: kafkajs defaults (acks from all replicas, no idempotence).
  const producer = mode === 'direct' ? kafka.producer({ allowAutoTopicCreation: false }) : undefined;
  try {
    await migrate(knex, { schema: db.schema });
    await knex.raw('create table effects (id varchar(64) primary key, n integer not null)');
    if (mode === 'direct') {
      const [id, json] = db.dialect === 'mysql' ? ['char(36)', 'json'] : ['uuid', 'jsonb'];
      await knex.raw(`create table orders (id ${id} primary key, payload ${json} not null)`);
    }
    const kadmin = kafka.admin();
    await kadmin.connect();
    await kadmin.createTopics({ topics: [{ topic, numPartitions: 4 }], waitForLeaders: true });
    await kadmin.disconnect();

    const record = (line: string) => {
      const [id, at, ts] = line.split(' ');
      const begin = committedAt.get(id ?? '');
      if (at === undefined || id === undefined) return;
      if (begin === undefined) {
        // Handled before this process ran its own commit callback: paired once that runs.
        early.set(id, line);
        return;
      }
      latencies.push(Number(at) - begin);
      // The record's timestamp is set by the relay's producer when it sends: it splits the
      // latency into commit → sent (relay) and sent → handler commit (Kafka and consumer).
      relayPart.push(Number(ts) - begin);
      consumerPart.push(Number(at) - Number(ts));
    };
    const consumerWorker = startWorker([mode === 'direct' ? 'direct' : 'consumer', url, topic], record);
    workers.push(consumerWorker.child);
    const ready = [consumerWorker.ready];
    if (producer !== undefined) await producer.connect();
    else {
      const relayWorker = startWorker(
        ['relay', url, topic, mode, String(args.lanes), args.thread === 1 ? 'thread' : 'main'],
        () => undefined,
      );
      workers.push(relayWorker.child);
      ready.push(relayWorker.ready);
    }
    await Promise.all(ready);
    // Warm up the group and the connections before measuring.
    await sleep(3_000);

    // Wake-ups go through a small pool of their own, so they never queue behind the
    // producer transactions that saturate the main pool at high rates.
    const outbox = new OutboxWriter({ knex: wakeKnex, schema: db.schema });
    const total = args.rate * args.seconds;
    const tickMs = 10;
    const perTick = Math.max(1, Math.round((args.rate * tickMs) / 1_000));
    const started = performance.now();
    let sent = 0;
    const inFlight = new Set<Promise<void>>();
    while (sent < total) {
      const due = Math.min(total, Math.floor(((performance.now() - started) / 1_000) * args.rate) + perTick);
      while (sent < due) {
        const n = sent++;
        const key = `k${n % 500}`;
        const payload = { n, note: 'x'.repeat(150) };
        const committed =
          producer !== undefined
            ? knex.transaction(async (trx) => {
                const id = randomUUID();
                await trx.raw('insert into orders (id, payload) values (?, ?)', [id, JSON.stringify(payload)]);
                return id;
              })
            : knex.transaction(async (trx) => (await outbox.enqueue(trx, { topic, key, payload })).id);
        const p = committed
          .then(async (id) => {
            committedAt.set(id, performance.timeOrigin + performance.now());
            const line = early.get(id);
            if (line !== undefined) {
              early.delete(id);
              earlyCount++;
              record(line);
            }
            await producer?.send({ topic, acks: -1, messages: [{ key, value: JSON.stringify(payload), headers: { id } }] });
          })
          .finally(() => inFlight.delete(p));
        inFlight.add(p);
      }
      await sleep(tickMs);
    }
    await Promise.all(inFlight);
    const deadline = Date.now() + 60_000;
    while (latencies.length < total && Date.now() < deadline) await sleep(100);
  } finally {
    await producer?.disconnect();
    for (const child of workers) child.kill('SIGTERM');
    await Promise.all(workers.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)))));
    await wakeKnex.destroy();
    await db.drop();
  }
  latencies.sort((a, b) => a - b);
  log(`  handled before the producing process saw its commit: ${earlyCount} (never paired: ${early.size})`);
  relayPart.sort((a, b) => a - b);
  consumerPart.sort((a, b) => a - b);
  return {
    p50_ms: percentile(latencies, 50),
    p95_ms: percentile(latencies, 95),
    p99_ms: percentile(latencies, 99),
    max_ms: percentile(latencies, 100),
    relay_p50_ms: percentile(relayPart, 50),
    relay_p99_ms: percentile(relayPart, 99),
    consumer_p50_ms: percentile(consumerPart, 50),
    consumer_p99_ms: percentile(consumerPart, 99),
    messages: latencies.length,
  };
}

/** Runs the benchmark and prints its JSON line last. */
export async function main(argv: string[]): Promise<void> {
  const { db: dbKind, rest } = takeDbArg(argv);
  const args = parseArgs(rest);
  const runs: Array<[Mode, string]> = [
    ...(dbKind === 'postgres' ? [['listen', 'LISTEN/NOTIFY on'] as [Mode, string]] : []),
    ['poll', 'polling only'],
    ['direct', 'baseline: commit, then send with bare kafkajs; bare kafkajs consumer, no inbox'],
  ];
  const results = new Map<Mode, Latency>();
  for (const [mode, title] of runs) {
    log(`e2e latency on ${dbKind}: ${args.rate} msgs/s for ${args.seconds} s, ${title}`);
    const result = await runOnce(args, mode, dbKind);
    log(`  ${JSON.stringify(result)}`);
    results.set(mode, result);
  }
  // On MariaDB the headline figures are polling's: it has no LISTEN/NOTIFY.
  const notify = (results.get('listen') ?? results.get('poll')) as Latency;
  const poll = results.get('poll') as Latency;
  const direct = results.get('direct') as Latency;
  const ratio = (ours: number, base: number) => Math.round((ours / base) * 100) / 100;
  const line = {
    bench: 'e2e',
    db: dbKind,
    rate: args.rate,
    seconds: args.seconds,
    relay_lanes: args.lanes,
    relay_publisher: args.thread === 1 ? 'thread' : 'main',
    p50_ms: notify.p50_ms,
    p95_ms: notify.p95_ms,
    p99_ms: notify.p99_ms,
    max_ms: notify.max_ms,
    relay_p50_ms: notify.relay_p50_ms,
    relay_p99_ms: notify.relay_p99_ms,
    consumer_p50_ms: notify.consumer_p50_ms,
    consumer_p99_ms: notify.consumer_p99_ms,
    poll_p50_ms: poll.p50_ms,
    poll_p95_ms: poll.p95_ms,
    poll_p99_ms: poll.p99_ms,
    poll_max_ms: poll.max_ms,
    direct_p50_ms: direct.p50_ms,
    direct_p95_ms: direct.p95_ms,
    direct_p99_ms: direct.p99_ms,
    direct_max_ms: direct.max_ms,
    delivered: notify.messages,
    poll_delivered: poll.messages,
    direct_delivered: direct.messages,
    target_p50_ms: 10,
    target_p99_ms: 50,
    p50_vs_direct: ratio(notify.p50_ms, direct.p50_ms),
    p99_vs_direct: ratio(notify.p99_ms, direct.p99_ms),
  };
  process.stdout.write(`${JSON.stringify(line)}\n`);
}
