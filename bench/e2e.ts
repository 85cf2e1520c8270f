// `pnpm bench e2e [--rate R] [--seconds S] [--lanes L]`: a steady R msgs/s for S seconds through the whole
// path (producer transaction → outbox → relay → Kafka → InboxConsumer → handler commit), once
// with LISTEN/NOTIFY waking the relay and once with polling only. The producer runs here; the
// relay (with at most L lanes: its `concurrency`, default the Relay's default of 4) and the consumer
// each run in a process of their own, as deployed. Latency runs from
// the producer's commit to the handler's commit, both read from this machine's wall clock.
// Last line: JSON with p50/p95/p99/max for both runs.

import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { migrate } from '@onceflow/core';
import { createKafka, defaultBrokers } from '@onceflow/kafka';
import { OutboxWriter } from '@onceflow/producer';
import type { Knex } from 'knex';
import knexFactory from 'knex';

interface Args {
  rate: number;
  seconds: number;
  /** The relay's `concurrency`. */
  lanes: number;
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
  const out: Args = { rate: 1_000, seconds: 60, lanes: 4 };
  for (let i = 0; i < args.length; i += 2) {
    const name = args[i]?.replace(/^--/, '') as keyof Args;
    const value = Number(args[i + 1]);
    if (!(name in out) || !Number.isInteger(value) || value < 1) {
      throw new Error(`usage: pnpm bench e2e [--rate R] [--seconds S] [--lanes L]; got ${args.join(' ')}`);
    }
    out[name] = value;
  }
  return out;
}

const SERVER_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const log = (line: string) => process.stderr.write(`${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function connect(url: string, pool: number): Knex {
  return knexFactory({ client: 'pg', connection: url, pool: { min: 0, max: pool } });
}

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

async function runOnce(args: Args, listen: boolean): Promise<Latency> {
  const database = `onceflow_bench_e2e_${randomBytes(4).toString('hex')}`;
  const admin = connect(SERVER_URL, 1);
  await admin.raw(`create database "${database}"`);
  const url = new URL(SERVER_URL);
  url.pathname = `/${database}`;
  const knex = connect(url.toString(), 24);
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
  const wakeKnex = connect(url.toString(), 2);
  try {
    await migrate(knex);
    await knex.raw('create table effects (id text primary key, n integer not null)');
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
    const consumerWorker = startWorker(['consumer', url.toString(), topic], record);
    const relayWorker = startWorker(['relay', url.toString(), topic, listen ? 'listen' : 'poll', String(args.lanes)], () => undefined);
    workers.push(consumerWorker.child, relayWorker.child);
    await Promise.all([consumerWorker.ready, relayWorker.ready]);
    // Warm up the group and the connections before measuring.
    await sleep(3_000);

    // Wake-ups go through a small pool of their own, so they never queue behind the
    // producer transactions that saturate the main pool at high rates.
    const outbox = new OutboxWriter({ knex: wakeKnex });
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
        const p = knex
          .transaction(async (trx) => {
            const m = await outbox.enqueue(trx, { topic, key: `k${n % 500}`, payload: { n, note: 'x'.repeat(150) } });
            return m.id;
          })
          .then((id) => {
            committedAt.set(id, performance.timeOrigin + performance.now());
            const line = early.get(id);
            if (line !== undefined) {
              early.delete(id);
              earlyCount++;
              record(line);
            }
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
    for (const child of workers) child.kill('SIGTERM');
    await Promise.all(workers.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)))));
    await knex.destroy();
    await wakeKnex.destroy();
    await admin.raw(`drop database if exists "${database}" with (force)`);
    await admin.destroy();
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
  const args = parseArgs(argv);
  log(`e2e latency: ${args.rate} msgs/s for ${args.seconds} s, LISTEN/NOTIFY on`);
  const notify = await runOnce(args, true);
  log(`  ${JSON.stringify(notify)}`);
  log(`e2e latency: ${args.rate} msgs/s for ${args.seconds} s, polling only`);
  const poll = await runOnce(args, false);
  log(`  ${JSON.stringify(poll)}`);
  const line = {
    bench: 'e2e',
    rate: args.rate,
    seconds: args.seconds,
    relay_lanes: args.lanes,
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
    delivered: notify.messages,
    poll_delivered: poll.messages,
    target_p50_ms: 10,
    target_p99_ms: 50,
  };
  process.stdout.write(`${JSON.stringify(line)}\n`);
}
