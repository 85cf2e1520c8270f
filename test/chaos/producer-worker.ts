import type { MessageInput } from '@onceflow/core';
import { OutboxWriter } from '@onceflow/producer';
import type { Knex } from 'knex';
import { chaosSqlFor } from './chaos-sql.ts';
import { Prng } from './prng.ts';
import type { ChaosPayload } from './tables.ts';
import { keyName } from './tables.ts';
import { connectAs, log, readWorkerConfig, report, sleep, superviseWorker } from './worker-io.ts';

/** Configuration of one producer process. */
export interface ProducerConfig {
  dbUrl: string;
  /** The Onceflow schema (on MySQL the run's database). */
  schema: string;
  worker: number;
  seed: number;
  topics: string[];
  keysPerTopic: number;
  /** Messages to commit (rolled-back ones come on top). */
  messages: number;
  /** Spread the messages evenly over this long. */
  durationMs: number;
  /** Transactions open at once. */
  concurrency: number;
  maxMessagesPerTransaction: number;
  rollbackRate: number;
  /** Poison messages to plant among the committed ones. */
  poison: number;
}

interface PlannedMessage {
  topic: string;
  key: string;
  ik: string;
  poison: boolean;
}

interface PlannedTransaction {
  tx: string;
  rollback: boolean;
  holdMs: number;
  messages: PlannedMessage[];
}

class RollBackOnPurpose extends Error {}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Plans transactions from the worker's seed: sizes, keys (a tenth of the keys get half the
 * traffic, so same-key transactions overlap), rollbacks and poison positions.
 */
class Planner {
  readonly #rng: Prng;
  readonly #config: ProducerConfig;
  readonly #poisonAt: Set<number>;
  #nextTx = 0;
  /** Committed-to-be messages planned so far. */
  planned = 0;

  constructor(config: ProducerConfig) {
    this.#config = config;
    this.#rng = new Prng(config.seed);
    this.#poisonAt = new Set(
      Array.from({ length: config.poison }, (_, j) => Math.floor((config.messages * (j + 1)) / (config.poison + 1))),
    );
  }

  get done(): boolean {
    return this.planned >= this.#config.messages;
  }

  next(): PlannedTransaction {
    const c = this.#config;
    const rng = this.#rng;
    const tx = `w${c.worker}-t${this.#nextTx++}`;
    const rollback = rng.chance(c.rollbackRate);
    const size = rollback
      ? rng.int(1, c.maxMessagesPerTransaction)
      : Math.min(rng.int(1, c.maxMessagesPerTransaction), c.messages - this.planned);
    const hot = Math.max(1, Math.floor(c.keysPerTopic / 10));
    const messages: PlannedMessage[] = [];
    for (let i = 0; i < size; i++) {
      const ordinal = this.planned + i;
      messages.push({
        topic: rng.pick(c.topics),
        key: keyName(rng.chance(0.5) ? rng.int(0, hot - 1) : rng.int(0, c.keysPerTopic - 1)),
        ik: `${tx}-m${i}`,
        poison: !rollback && this.#poisonAt.has(ordinal),
      });
    }
    if (!rollback) this.planned += size;
    return { tx, rollback, holdMs: rng.chance(0.2) ? rng.int(1, 30) : 0, messages };
  }
}

const config = readWorkerConfig<ProducerConfig>();
const knex = connectAs(config.dbUrl, `chaos-producer-${config.worker}`, config.concurrency + 1);
const sql = chaosSqlFor(knex);
const outbox = new OutboxWriter({ knex, schema: config.schema });
const planner = new Planner(config);
const stats = { committedTx: 0, committedMessages: 0, rolledBackTx: 0, rolledBackMessages: 0, retries: 0, ambiguousCommits: 0 };
let stopping = false;

superviseWorker(async () => {
  stopping = true;
  await knex.destroy();
});

/**
 * Writes the business rows and the outbox messages of one transaction. The key rows are locked
 * in (topic, key) order first: they give each message its per-key sequence in commit order
 * and serialize same-key transactions before the outbox's own key locks (advisory locks on
 * PostgreSQL, key-lock rows on MySQL), without deadlocks.
 */
async function write(trx: Knex.Transaction, plan: PlannedTransaction): Promise<void> {
  const keys = new Map<string, { topic: string; key: string; seq: number }>();
  for (const m of plan.messages) keys.set(`${m.topic}\u0000${m.key}`, { topic: m.topic, key: m.key, seq: 0 });
  const sorted = [...keys.values()].sort((a, b) => (a.topic === b.topic ? cmp(a.key, b.key) : cmp(a.topic, b.topic)));
  for (const row of await sql.lockKeys(trx, sorted)) {
    const entry = keys.get(`${row.topic}\u0000${row.key}`);
    if (entry !== undefined) entry.seq = row.seq;
  }
  const payloads: ChaosPayload[] = plan.messages.map((m) => {
    const entry = keys.get(`${m.topic}\u0000${m.key}`) as { seq: number };
    entry.seq++;
    return { ik: m.ik, tx: plan.tx, key: m.key, seq: entry.seq, poison: m.poison, pad: 'x'.repeat(64) };
  });
  await sql.setKeySeqs(trx, sorted);
  await sql.insertSent(
    trx,
    payloads.map((p, i) => ({
      ik: p.ik,
      tx: plan.tx,
      worker: config.worker,
      topic: (plan.messages[i] as PlannedMessage).topic,
      key: p.key,
      seq: p.seq,
      poison: p.poison,
    })),
  );
  const messages: MessageInput<ChaosPayload>[] = payloads.map((p, i) => ({
    topic: (plan.messages[i] as PlannedMessage).topic,
    key: p.key,
    payload: p,
    idempotencyKey: p.ik,
    type: 'chaos.effect',
  }));
  await outbox.enqueue(trx, messages);
  if (plan.holdMs > 0) await sleep(plan.holdMs);
  if (plan.rollback) throw new RollBackOnPurpose();
}

/** Runs one planned transaction until it commits (or, on purpose, rolls back), through killed sessions. */
async function run(plan: PlannedTransaction): Promise<void> {
  for (let attempt = 1; !stopping; attempt++) {
    try {
      await knex.transaction((trx) => write(trx, plan));
      stats.committedTx++;
      stats.committedMessages += plan.messages.length;
      return;
    } catch (error) {
      if (error instanceof RollBackOnPurpose) {
        await recordRollback(plan);
        return;
      }
      // The session may have died after COMMIT reached the server: the business row decides.
      if (await committed(plan)) {
        stats.ambiguousCommits++;
        stats.committedTx++;
        stats.committedMessages += plan.messages.length;
        return;
      }
      stats.retries++;
      if (attempt % 10 === 0) log('producer transaction keeps failing', { tx: plan.tx, attempt, error });
      await sleep(Math.min(2_000, 20 * attempt));
    }
  }
}

async function committed(plan: PlannedTransaction): Promise<boolean> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await sql.isSent(knex, (plan.messages[0] as PlannedMessage).ik);
    } catch (error) {
      if (stopping) throw error;
      await sleep(Math.min(2_000, 20 * attempt));
    }
  }
}

async function recordRollback(plan: PlannedTransaction): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await sql.recordRolledBack(
        knex,
        plan.messages.map((m) => m.ik),
        plan.tx,
      );
      stats.rolledBackTx++;
      stats.rolledBackMessages += plan.messages.length;
      return;
    } catch (error) {
      if (stopping) throw error;
      await sleep(Math.min(2_000, 20 * attempt));
    }
  }
}

const startedAt = Date.now();
/** One lane: takes the next planned transaction when the pace allows, until the quota is planned. */
async function lane(): Promise<void> {
  while (!stopping && !planner.done) {
    const dueAt = startedAt + (planner.planned / config.messages) * config.durationMs;
    const plan = planner.next();
    const wait = dueAt - Date.now();
    if (wait > 0) await sleep(wait);
    await run(plan);
  }
}

report('ready');
await Promise.all(Array.from({ length: config.concurrency }, () => lane()));
report('done', { ...stats, ms: Date.now() - startedAt });
await knex.destroy();
process.exit(0);
