import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { migrate, tablesForDialect } from '@onceflow/core';
import { createKafka } from '@onceflow/kafka';
import type { Admin } from 'kafkajs';
import { createTestDatabase, SERVER_URL, TEST_DB } from '../support/database.ts';
import type { DrainState } from './chaos-sql.ts';
import { chaosSqlFor } from './chaos-sql.ts';
import type { CheckResult } from './checker.ts';
import { checkInvariants, failures } from './checker.ts';
import { CLUSTER_BROKERS, ClusterControl } from './cluster-control.ts';
import type { ConsumerWorkerConfig } from './consumer-worker.ts';
import type { AppliedFault } from './faults.ts';
import { abortableSleep, runSchedule } from './faults.ts';
import { KafkaControl } from './kafka-control.ts';
import { PgControl } from './pg-control.ts';
import { deriveSeed } from './prng.ts';
import type { ProducerConfig } from './producer-worker.ts';
import type { ChaosProfile } from './profiles.ts';
import { unsupportedOn } from './profiles.ts';
import type { RelayWorkerConfig } from './relay-worker.ts';
import type { FaultKind } from './schedule.ts';
import { countByKind, describeFault, generateSchedule } from './schedule.ts';
import { Supervisor } from './supervisor.ts';
import { createChaosTables } from './tables.ts';
import { connectAs, persistently } from './worker-io.ts';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const CONSUMER_NAME = 'chaos-ledger';

/** Options of {@link runChaos}. */
export interface ChaosOptions {
  readonly profile: ChaosProfile;
  readonly seed: number;
  /** Progress lines. @defaultValue stderr */
  readonly log?: (line: string) => void;
  /** Aborts the run early (it still cleans up and checks what it has). */
  readonly signal?: AbortSignal;
  /** Runs the consumers with a deliberate bug (see ConsumerWorkerConfig.sabotage): the run must fail. */
  readonly sabotage?: 'dedup-by-offset';
}

/** The outcome of a run: the checker's counts plus what the harness saw. */
export interface ChaosReport {
  readonly ok: boolean;
  /** Broken invariants, e.g. `lost=3`, `crashes=1`. */
  readonly failures: string[];
  readonly check: CheckResult;
  readonly seed: number;
  readonly profile: string;
  readonly faultsPlanned: number;
  readonly faults: AppliedFault[];
  readonly faultsByKind: Record<FaultKind, number>;
  /** Committed offsets behind the end of the topics after the drain (-1: could not be read). */
  readonly lag: number;
  readonly crashes: string[];
  readonly uncleanStops: string[];
  readonly drained: boolean;
  readonly durationMs: number;
  readonly drainMs: number;
  readonly producers: Record<string, unknown>[];
  /** Where each process's output and the schedule are, kept when the run failed (or CHAOS_KEEP_LOGS=1). */
  readonly logDir: string | undefined;
}

/**
 * One chaos run: a database and topics of its own, producer, relay and consumer processes, the
 * seeded fault schedule while producers write, a drain, the invariant checker, and a clean-up
 * that stops every process, drops the database and deletes the topics, also on failure. Kafka
 * (the single broker, or all three nodes of the cluster) and PostgreSQL are always left running.
 */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const { profile, seed } = options;
  const say = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const signal = options.signal ?? new AbortController().signal;
  const started = Date.now();
  const refused = unsupportedOn(profile, TEST_DB);
  if (refused !== undefined) throw new Error(refused);
  const schedule = generateSchedule(seed, profile);
  const runId = `chaos_${seed}_${randomBytes(3).toString('hex')}`;
  const topics = Array.from({ length: profile.topics }, (_, t) => `${runId}_t${t}`);
  const groupId = `${runId}_group`;
  const onCluster = profile.kafka === 'cluster';
  const brokersBefore = process.env.KAFKA_BROKERS;
  if (onCluster) useClusterBrokers();
  // The controls fail here, before anything is made, when Kafka or PostgreSQL cannot be restarted.
  const control = onCluster ? undefined : new KafkaControl(root);
  const kafkaHow =
    control === undefined ? `the three-node cluster ${CLUSTER_BROKERS}` : `Kafka restarts by \`${control.command()} stop|start\``;
  const pg = profile.pgRestarts > 0 ? PgControl.for(SERVER_URL, root) : undefined;
  const logDir = await mkdtemp(join(tmpdir(), `onceflow-chaos-${seed}-`));
  await writeFile(join(logDir, 'schedule.txt'), `${schedule.map(describeFault).join('\n')}\n`);
  say(
    `chaos: profile ${profile.name}, seed ${seed}, ${schedule.length} faults, on ${TEST_DB}, logs in ${logDir}, ${kafkaHow}` +
      (pg === undefined ? '' : `, PostgreSQL restarts by \`${pg.command} stop|start\``),
  );

  const kafka = createKafka({ clientId: 'chaos-harness', retries: 8 });
  const cluster = onCluster ? new ClusterControl(root, kafka) : undefined;
  // Brings up the nodes that are down (the first run starts the cluster: about 20 s).
  if (cluster !== undefined) await cluster.start();
  const db = await createTestDatabase(2);
  // One session kept open, so the harness is never locked out when the connection table is full.
  const knex = connectAs(db.url, 'chaos-harness', 3, 1);
  const sql = chaosSqlFor(knex);
  const tables = tablesForDialect(db.dialect, db.schema);
  const supervisor = new Supervisor(logDir);
  let keepLogs = process.env.CHAOS_KEEP_LOGS === '1';
  const killOnExit = () => supervisor.killAllNow();
  process.on('exit', killOnExit);
  signal.addEventListener('abort', killOnExit);
  const relayName = (slot: number) => `relay-${slot}`;
  const consumerName = (slot: number) => `consumer-${slot}`;
  const producerNames = Array.from({ length: profile.producers }, (_, w) => `producer-${w}`);
  try {
    await migrate(knex, { schema: db.schema });
    await sql.prepareRoles(knex, db.name);
    await createChaosTables(knex, topics, profile.keysPerTopic);
    await createTopics(kafka.admin(), topics, profile.partitions, onCluster ? 3 : 1);
    if (cluster !== undefined) await cluster.waitIsrWhole(topics, 60_000);
    registerProcesses(supervisor, profile, {
      dbUrl: db.url,
      schema: db.schema,
      seed,
      topics,
      groupId,
      relayName,
      consumerName,
      producerNames,
      sabotage: options.sabotage,
    });

    const consumers = Array.from({ length: profile.consumers }, (_, c) => consumerName(c));
    const relays = Array.from({ length: profile.relays }, (_, r) => relayName(r));
    for (const name of [...consumers, ...relays]) supervisor.start(name);
    await Promise.all([...consumers, ...relays].map((name) => supervisor.ready(name, 90_000)));
    say(`chaos: ${relays.length} relays and ${consumers.length} consumers ready after ${((Date.now() - started) / 1000).toFixed(1)} s`);

    const t0 = Date.now();
    for (const name of producerNames) supervisor.start(name);
    const faultsDone = runSchedule(schedule, t0, {
      supervisor,
      kafka: control,
      cluster,
      pg,
      topics,
      knex,
      sql,
      tables,
      relayName,
      consumerName,
      log: say,
      signal,
    });
    // Awaited below; when the schedule itself fails, end the run now rather than after the producers.
    faultsDone.catch((error: unknown) => {
      say(`chaos: the fault schedule failed: ${String(error)}`);
      supervisor.killAllNow();
    });
    await Promise.all(producerNames.map((name) => supervisor.exited(name)));
    say(`chaos: producers finished after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const applied = await faultsDone;

    // Every regular process is up again before the drain (a crash restart may be pending).
    for (const name of [...consumers, ...relays]) if (!supervisor.isUp(name)) supervisor.start(name);
    const drainStarted = Date.now();
    const drained = await drain(
      () => sql.drainState(knex, tables, CONSUMER_NAME),
      kafka.admin(),
      groupId,
      topics,
      profile.drainTimeoutMs,
      signal,
      say,
    );
    const drainMs = Date.now() - drainStarted;
    const lag = await groupLag(kafka.admin(), groupId, topics);
    const uncleanStops = [...applied.flatMap((f) => (f.problem === undefined ? [] : [f.problem])), ...(await supervisor.stopAll(30_000))];
    const check = await persistently('the invariant checker', () => checkInvariants(knex, CONSUMER_NAME, db.schema));
    const producers = producerNames.map((name) => ({ name, ...supervisor.lastEvent(name, 'done') }));
    const crashes = supervisor.crashes.map(
      (c) => `${c.name}#${c.generation} code=${c.code} signal=${c.signal} at +${(c.atMs / 1000).toFixed(1)}s`,
    );
    const problems = [
      ...failures(check),
      ...(drained ? [] : ['drain timed out']),
      ...(lag === 0 ? [] : [`lag=${lag}`]),
      ...(crashes.length === 0 ? [] : [`crashes=${crashes.length}`]),
      ...(uncleanStops.length === 0 ? [] : [`unclean_stops=${uncleanStops.join(',')}`]),
      ...producers.filter((p) => p.event !== 'done').map((p) => `${p.name} did not finish`),
    ];
    const effective = applied.filter((f) => f.applied);
    keepLogs ||= problems.length > 0;
    return {
      ok: problems.length === 0,
      failures: problems,
      check,
      seed,
      profile: profile.name,
      faultsPlanned: schedule.length,
      faults: applied,
      faultsByKind: countByKind(effective),
      lag,
      crashes,
      uncleanStops,
      drained,
      durationMs: Date.now() - started,
      drainMs,
      producers,
      logDir: keepLogs ? logDir : undefined,
    };
  } catch (error) {
    keepLogs = true;
    throw error;
  } finally {
    supervisor.killAllNow();
    process.off('exit', killOnExit);
    signal.removeEventListener('abort', killOnExit);
    if (pg?.down) await bringBack('PostgreSQL', () => pg.start(), say);
    if (control?.down) await bringBack('Kafka', () => control.start(), say);
    if (cluster !== undefined) {
      if (cluster.impaired.length > 0) await bringBack(`cluster nodes ${cluster.impaired.join(',')}`, () => cluster.restore(), say);
      await cluster.close();
    }
    await supervisor.close();
    await deleteTopics(kafka.admin(), topics, groupId).catch((error: unknown) => say(`chaos: could not delete topics: ${String(error)}`));
    await sql.releaseRoles(knex, db.name).catch((error: unknown) => say(`chaos: could not revoke the roles' grants: ${String(error)}`));
    await knex.destroy();
    await db.drop();
    if (!keepLogs) await rm(logDir, { recursive: true, force: true });
    if (brokersBefore === undefined) delete process.env.KAFKA_BROKERS;
    else process.env.KAFKA_BROKERS = brokersBefore;
  }
}

/** Points this process and the workers it starts (they inherit the environment) at the cluster. */
function useClusterBrokers(): void {
  const set = process.env.KAFKA_BROKERS;
  if (set !== undefined && set !== '' && set !== CLUSTER_BROKERS) {
    throw new Error(
      `--cluster runs against the local three-node cluster (${CLUSTER_BROKERS}), but KAFKA_BROKERS is ${set}: unset it, or run without --cluster`,
    );
  }
  process.env.KAFKA_BROKERS = CLUSTER_BROKERS;
}

/** The one JSON line: the suite's headline counts first, then the details. */
export function summaryLine(report: ChaosReport): Record<string, unknown> {
  const c = report.check;
  return {
    suite: 'chaos',
    messages: c.messages,
    faults: report.faults.filter((f) => f.applied).length,
    lost: c.lost,
    double: c.double,
    reordered: c.reordered,
    seed: report.seed,
    ok: report.ok,
    failures: report.failures,
    profile: report.profile,
    rolled_back: c.rolledBack,
    effects: c.effects,
    poison: c.poison,
    dead_letters: c.deadLetters,
    phantom: c.phantom,
    pending: c.pending,
    outbox_dead: c.outboxDead,
    unexpected_dead_letters: c.unexpectedDeadLetters,
    poison_missing: c.poisonMissing,
    inbox_processing: c.inboxProcessing,
    balance_mismatch: c.balanceMismatch,
    lag: report.lag,
    crashes: report.crashes.length,
    unclean_stops: report.uncleanStops,
    faults_planned: report.faultsPlanned,
    faults_by_kind: report.faultsByKind,
    duration_s: Math.round(report.durationMs / 1000),
    drain_s: Math.round(report.drainMs / 1000),
    ...(report.logDir === undefined ? {} : { log_dir: report.logDir }),
  };
}

interface ProcessContext {
  dbUrl: string;
  schema: string;
  seed: number;
  topics: string[];
  groupId: string;
  relayName: (slot: number) => string;
  consumerName: (slot: number) => string;
  producerNames: string[];
  sabotage: ChaosOptions['sabotage'];
}

function registerProcesses(supervisor: Supervisor, profile: ChaosProfile, ctx: ProcessContext): void {
  for (let r = 0; r < profile.relays; r++) {
    const name = ctx.relayName(r);
    supervisor.add({
      name,
      script: join(here, 'relay-worker.ts'),
      restartOnCrash: true,
      config: (generation): RelayWorkerConfig => ({
        dbUrl: ctx.dbUrl,
        schema: ctx.schema,
        name,
        generation,
        leaseMs: profile.relayLeaseMs,
        pollIntervalMs: profile.relayPollIntervalMs,
        batchSize: profile.relayBatchSize,
      }),
    });
  }
  for (let c = 0; c < profile.consumers + profile.extraConsumers; c++) {
    const name = ctx.consumerName(c);
    supervisor.add({
      name,
      script: join(here, 'consumer-worker.ts'),
      restartOnCrash: true,
      config: (generation): ConsumerWorkerConfig => ({
        dbUrl: ctx.dbUrl,
        schema: ctx.schema,
        name,
        generation,
        groupId: ctx.groupId,
        topics: ctx.topics,
        consumerName: CONSUMER_NAME,
        sessionTimeoutMs: profile.consumerSessionTimeoutMs,
        heartbeatIntervalMs: profile.consumerHeartbeatIntervalMs,
        concurrency: profile.consumerConcurrency,
        maxAttempts: 10,
        ...(ctx.sabotage === undefined ? {} : { sabotage: ctx.sabotage }),
      }),
    });
  }
  const share = (total: number, w: number) => Math.floor(total / profile.producers) + (w < total % profile.producers ? 1 : 0);
  for (const [w, name] of ctx.producerNames.entries()) {
    supervisor.add({
      name,
      script: join(here, 'producer-worker.ts'),
      restartOnCrash: false,
      exitsWhenDone: true,
      config: (): ProducerConfig => ({
        dbUrl: ctx.dbUrl,
        schema: ctx.schema,
        worker: w,
        seed: deriveSeed(ctx.seed, name),
        topics: ctx.topics,
        keysPerTopic: profile.keysPerTopic,
        messages: share(profile.messages, w),
        durationMs: profile.durationMs,
        concurrency: profile.producerConcurrency,
        maxMessagesPerTransaction: profile.maxMessagesPerTransaction,
        rollbackRate: profile.rollbackRate,
        poison: share(profile.poison, w),
      }),
    });
  }
}

/**
 * Waits until nothing is left: no outbox row pending, every committed message handled (poison:
 * parked), and the group's committed offsets at the end of every partition. Then waits a
 * little more, so a late duplicate effect would still be seen by the checker.
 */
async function drain(
  drainState: () => Promise<DrainState>,
  admin: Admin,
  groupId: string,
  topics: string[],
  timeoutMs: number,
  signal: AbortSignal,
  say: (line: string) => void,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let lastReport = 0;
  while (!signal.aborted) {
    const state = await drainState().catch(() => undefined);
    const lag = await groupLag(admin, groupId, topics);
    if (state !== undefined && state.pending + state.unhandled + state.unparked === 0 && lag === 0) {
      await abortableSleep(3_000, signal);
      return true;
    }
    if (Date.now() > deadline) {
      say(`chaos: drain timed out: ${JSON.stringify({ ...state, lag })}`);
      return false;
    }
    if (Date.now() - lastReport > 10_000) {
      say(`chaos: draining: ${JSON.stringify({ ...state, lag })}`);
      lastReport = Date.now();
    }
    await abortableSleep(1_000, signal);
  }
  return false;
}

/** Sum over partitions of (end offset - committed offset); -1 when the broker cannot be asked. */
async function groupLag(admin: Admin, groupId: string, topics: string[]): Promise<number> {
  try {
    await admin.connect();
    let lag = 0;
    const committed = await admin.fetchOffsets({ groupId, topics });
    for (const topic of committed) {
      const ends = await admin.fetchTopicOffsets(topic.topic);
      for (const p of topic.partitions) {
        const end = ends.find((e) => e.partition === p.partition);
        if (end === undefined) continue;
        const at = Number(p.offset);
        lag += Number(end.high) - (at < 0 ? Number(end.low) : at);
      }
    }
    return lag;
  } catch {
    return -1;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

async function createTopics(admin: Admin, topics: string[], partitions: number, replicationFactor: number): Promise<void> {
  await admin.connect();
  try {
    await admin.createTopics({
      topics: topics.map((topic) => ({ topic, numPartitions: partitions, replicationFactor })),
      // kafkajs waits for leaders by asking any broker, and gives up on the first one that has
      // not heard of the new topic yet (UNKNOWN_TOPIC_OR_PARTITION); on the cluster the caller
      // waits for leaders and whole ISRs itself.
      waitForLeaders: replicationFactor === 1,
    });
  } finally {
    await admin.disconnect();
  }
}

async function deleteTopics(admin: Admin, topics: string[], groupId: string): Promise<void> {
  await admin.connect();
  try {
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.deleteTopics({ topics, timeout: 30_000 });
  } finally {
    await admin.disconnect();
  }
}

/** Kafka and PostgreSQL are always left running: a run that stopped one starts it again, retrying. */
async function bringBack(what: string, start: () => Promise<void>, say: (line: string) => void): Promise<void> {
  for (let attempt = 1; attempt <= 5; attempt++) {
    try {
      await start();
      return;
    } catch (error) {
      say(`chaos: starting ${what} again failed (attempt ${attempt}): ${String(error)}`);
      await new Promise((resolve) => setTimeout(resolve, 2_000));
    }
  }
}
