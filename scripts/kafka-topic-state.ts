// Leaders and in-sync replicas of a Kafka cluster's partitions, from the brokers' own metadata
// (kafkajs admin). `scripts/kafka.sh leader|isr` runs it against the local three-node cluster;
// the chaos harness imports its functions.
//
//   node scripts/kafka-topic-state.ts leader TOPIC PARTITION   the leader's node id (-1: none)
//   node scripts/kafka-topic-state.ts isr [--wait] [TOPIC...]  partitions whose ISR is short of
//                                                              their replicas; --wait: until none
// Brokers from KAFKA_BROKERS. Exit code 1 when a partition is short (isr) or leaderless (leader).
import { pathToFileURL } from 'node:url';
import type { Admin } from 'kafkajs';
import { Kafka, logLevel } from 'kafkajs';

/** One partition as the cluster reports it. */
export interface PartitionState {
  readonly topic: string;
  readonly partition: number;
  /** Node id of the leader; -1 while there is none. */
  readonly leader: number;
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
}

/** Every partition of `topics` (every topic, internal ones included, when `topics` is empty). */
export async function partitionStates(admin: Admin, topics: readonly string[] = []): Promise<PartitionState[]> {
  const names = topics.length > 0 ? [...topics] : await admin.listTopics();
  if (names.length === 0) return [];
  const { topics: metadata } = await admin.fetchTopicMetadata({ topics: names });
  return metadata.flatMap((t) =>
    t.partitions.map((p) => ({ topic: t.name, partition: p.partitionId, leader: p.leader, replicas: p.replicas, isr: p.isr })),
  );
}

/** Partitions whose ISR lacks one of their replicas, or that have no leader. */
export function shortPartitions(states: readonly PartitionState[]): PartitionState[] {
  return states.filter((s) => s.leader < 0 || s.replicas.some((r) => !s.isr.includes(r)));
}

/** The node id leading `topic`/`partition` (-1: no leader now); throws when the partition does not exist. */
export async function leaderOf(admin: Admin, topic: string, partition: number): Promise<number> {
  const state = (await partitionStates(admin, [topic])).find((s) => s.partition === partition);
  if (state === undefined) throw new Error(`no partition ${partition} in topic ${topic}`);
  return state.leader;
}

/**
 * Waits until every partition of `topics` (all topics when empty) has a leader and its whole
 * replica set in sync; resolves the partitions still short when `timeoutMs` runs out (empty
 * when the wait succeeded). Metadata requests that fail meanwhile (a broker restarting) are
 * retried.
 */
export async function waitIsrWhole(admin: Admin, topics: readonly string[], timeoutMs: number): Promise<PartitionState[]> {
  const deadline = Date.now() + timeoutMs;
  let short: PartitionState[] = [];
  for (;;) {
    try {
      short = shortPartitions(await partitionStates(admin, topics));
      if (short.length === 0) return [];
    } catch {
      // Asked a broker that is on its way down or up: ask again.
    }
    if (Date.now() > deadline) return short;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** `topic/partition leader=N replicas=[..] isr=[..]` */
export function describePartition(s: PartitionState): string {
  return `${s.topic}/${s.partition} leader=${s.leader} replicas=[${s.replicas.join(',')}] isr=[${s.isr.join(',')}]`;
}

async function main(argv: string[]): Promise<number> {
  const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9192,127.0.0.1:9193,127.0.0.1:9194').split(',').map((b) => b.trim());
  const kafka = new Kafka({
    clientId: 'onceflow-topic-state',
    brokers,
    logLevel: logLevel.NOTHING,
    retry: { retries: 3, initialRetryTime: 200, maxRetryTime: 2_000 },
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [command, ...rest] = argv;
    if (command === 'leader' && rest.length === 2) {
      const partition = Number(rest[1]);
      if (!Number.isInteger(partition) || partition < 0) throw new Error(`PARTITION must be a partition number, got ${rest[1]}`);
      const leader = await leaderOf(admin, rest[0] as string, partition);
      process.stdout.write(`${leader}\n`);
      return leader < 0 ? 1 : 0;
    }
    if (command === 'isr') {
      const wait = rest[0] === '--wait';
      const topics = wait ? rest.slice(1) : rest;
      const short = wait ? await waitIsrWhole(admin, topics, 120_000) : shortPartitions(await partitionStates(admin, topics));
      for (const s of short) process.stdout.write(`${describePartition(s)}\n`);
      if (short.length > 0 && wait) process.stderr.write('kafka-topic-state: ISR still short after 120 s\n');
      return short.length === 0 ? 0 : 1;
    }
    process.stderr.write('usage: kafka-topic-state.ts leader TOPIC PARTITION | isr [--wait] [TOPIC...]\n');
    return 2;
  } finally {
    await admin.disconnect();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`kafka-topic-state: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
