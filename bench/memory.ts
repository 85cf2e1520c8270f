// `pnpm bench memory [--messages N]`: a relay and a consumer, each in a process of its own,
// move N messages (default 1,000,000) while the outbox is filled in chunks. Prints each
// process's RSS once warmed up (after 10% of the messages) and at the end, and their ratio;
// flat memory means a ratio near 1. Last line: JSON.

import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { migrate } from '@onceflow/core';
import { createKafka, defaultBrokers } from '@onceflow/kafka';
import { OutboxWriter } from '@onceflow/producer';
import knexFactory from 'knex';

interface Sample {
  role: 'relay' | 'consumer';
  rss: number;
  heap: number;
  handled: number;
}

const SERVER_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const log = (line: string) => process.stderr.write(`${line}\n`);
const mb = (bytes: number) => Math.round((bytes / 1_048_576) * 10) / 10;

function parseMessages(argv: string[]): number {
  if (argv.length === 0) return 1_000_000;
  const n = Number(argv[1]);
  if (argv[0] !== '--messages' || !Number.isInteger(n) || n < 1_000)
    throw new Error(`usage: pnpm bench memory [--messages N>=1000]; got ${argv.join(' ')}`);
  return n;
}

function startWorker(role: 'relay' | 'consumer', url: string, topic: string, onSample: (s: Sample) => void): ChildProcess {
  const script = fileURLToPath(new URL('./memory-worker.ts', import.meta.url));
  const child = spawn(process.execPath, [script, role, url, topic], { stdio: ['ignore', 'pipe', 'inherit'] });
  createInterface({ input: child.stdout as NonNullable<typeof child.stdout> }).on('line', (line) => {
    try {
      onSample(JSON.parse(line) as Sample);
    } catch {
      // Not a sample line.
    }
  });
  return child;
}

/** Runs the benchmark and prints its JSON line last. */
export async function main(argv: string[]): Promise<void> {
  const total = parseMessages(argv);
  const database = `onceflow_bench_mem_${randomBytes(4).toString('hex')}`;
  const admin = knexFactory({ client: 'pg', connection: SERVER_URL, pool: { min: 0, max: 1 } });
  await admin.raw(`create database "${database}"`);
  const url = new URL(SERVER_URL);
  url.pathname = `/${database}`;
  const knex = knexFactory({ client: 'pg', connection: url.toString(), pool: { min: 0, max: 4 } });
  const topic = `bench_mem_${randomBytes(4).toString('hex')}`;
  const children: ChildProcess[] = [];
  const first: Partial<Record<Sample['role'], Sample>> = {};
  const last: Partial<Record<Sample['role'], Sample>> = {};
  const peak: Record<Sample['role'], number> = { relay: 0, consumer: 0 };
  const warm = Math.floor(total / 10);
  try {
    await migrate(knex);
    await knex.raw('create table effects (id text not null)');
    const kafka = createKafka({ brokers: defaultBrokers(), clientId: 'bench-memory', retries: 8 });
    const kadmin = kafka.admin();
    await kadmin.connect();
    await kadmin.createTopics({ topics: [{ topic, numPartitions: 8 }], waitForLeaders: true });
    await kadmin.disconnect();

    const onSample = (s: Sample) => {
      if (s.handled >= warm && first[s.role] === undefined) first[s.role] = s;
      if (first[s.role] !== undefined) peak[s.role] = Math.max(peak[s.role], s.rss);
      last[s.role] = s;
    };
    children.push(startWorker('relay', url.toString(), topic, onSample), startWorker('consumer', url.toString(), topic, onSample));

    const outbox = new OutboxWriter();
    const chunk = 5_000;
    const started = Date.now();
    for (let sent = 0; sent < total; sent += chunk) {
      const n = Math.min(chunk, total - sent);
      await knex.transaction((trx) =>
        outbox.enqueue(
          trx,
          Array.from({ length: n }, (_, i) => ({ topic, key: `k${(sent + i) % 1_000}`, payload: { n: sent + i, note: 'x'.repeat(150) } })),
        ),
      );
      // Keep the backlog bounded so the run measures steady state, not a huge outbox.
      while ((last.consumer?.handled ?? 0) < sent - 100_000) await new Promise((r) => setTimeout(r, 200));
    }
    while ((last.consumer?.handled ?? 0) < total) {
      if (Date.now() - started > 3_600_000) throw new Error('memory bench did not finish within an hour');
      await new Promise((r) => setTimeout(r, 500));
    }
    log(`moved ${total} messages in ${Math.round((Date.now() - started) / 1000)} s`);
  } finally {
    for (const child of children) child.kill('SIGTERM');
    await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)))));
    await knex.destroy();
    await admin.raw(`drop database if exists "${database}" with (force)`);
    await admin.destroy();
  }
  const report = (role: Sample['role']) => {
    const start = first[role]?.rss ?? Number.NaN;
    const end = last[role]?.rss ?? Number.NaN;
    return { start: mb(start), end: mb(end), peak: mb(peak[role]), ratio: Math.round((end / start) * 100) / 100 };
  };
  const relay = report('relay');
  const consumer = report('consumer');
  log(
    `relay RSS ${relay.start} MB -> ${relay.end} MB (peak ${relay.peak}); consumer RSS ${consumer.start} MB -> ${consumer.end} MB (peak ${consumer.peak})`,
  );
  const line = {
    bench: 'memory',
    messages: total,
    relay_rss_start_mb: relay.start,
    relay_rss_end_mb: relay.end,
    relay_rss_peak_mb: relay.peak,
    relay_rss_ratio: relay.ratio,
    consumer_rss_start_mb: consumer.start,
    consumer_rss_end_mb: consumer.end,
    consumer_rss_peak_mb: consumer.peak,
    consumer_rss_ratio: consumer.ratio,
  };
  process.stdout.write(`${JSON.stringify(line)}\n`);
}
