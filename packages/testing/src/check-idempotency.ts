import type { Knex } from 'knex';
import type { Scenario, ScenarioReport } from './idempotency-error.ts';
import { IdempotencyError, Scenarios } from './idempotency-error.ts';
import type { CheckIdempotencyOptions, ResolvedCheckIdempotencyOptions } from './options.ts';
import { resolveCheckIdempotencyOptions } from './options.ts';
import type { Deliveries } from './scenarios.ts';
import { concurrent, crashBeforeOffsetCommit, deliverOnce, rollbackThenRedeliver, sequential } from './scenarios.ts';
import { diffStates, statesEqual } from './state-diff.ts';

/** What {@link checkIdempotency} found when every scenario passed. */
export interface IdempotencyReport {
  /** The inbox name the kit used. */
  readonly consumerName: string;
  /** The snapshot before any delivery. */
  readonly start: unknown;
  /** The snapshot after one delivery: the state every scenario must leave. */
  readonly single: unknown;
  /** Each scenario run, in order. */
  readonly scenarios: readonly ScenarioReport[];
}

const RUNNERS: Record<Scenario, (o: ResolvedCheckIdempotencyOptions<unknown>, d: Deliveries) => Promise<unknown>> = {
  [Scenarios.sequential]: sequential,
  [Scenarios.concurrent]: concurrent,
  [Scenarios.crashBeforeOffsetCommit]: crashBeforeOffsetCommit,
  [Scenarios.rollbackThenRedeliver]: rollbackThenRedeliver,
};

/**
 * Checks that `handler` has exactly one effect on your real database however Kafka delivers
 * its message: twice in sequence, twice at the same moment, again after a crash between the
 * DB commit and the offset commit, and again after a crash before the DB commit. Every
 * delivery goes through Onceflow's real inbox transaction. Before each scenario `reset`
 * restores your starting state and the kit deletes its inbox rows; after it, `snapshot` must
 * equal the state a single delivery leaves. Throws {@link IdempotencyError} listing the
 * differences (an effect written outside the given transaction shows up as a doubled row),
 * OptionError for bad options, and the handler's own error when a single delivery fails.
 * Leaves your tables reset and its inbox rows deleted.
 */
export async function checkIdempotency<Payload = unknown>(options: CheckIdempotencyOptions<Payload>): Promise<IdempotencyReport> {
  const o = resolveCheckIdempotencyOptions(options) as unknown as ResolvedCheckIdempotencyOptions<unknown>;
  let failed = false;
  try {
    await restart(o);
    const start = await o.snapshot(o.knex);
    const once: Deliveries = { outcomes: [], handlerCalls: 0 };
    try {
      await deliverOnce(o, once);
    } catch (error) {
      throw new Error(
        `The handler failed on a single delivery of ${o.message.topic}/${o.message.partition}@${o.message.offset}, so nothing can be compared: ${errorText(error)}`,
        { cause: error },
      );
    }
    const single = await o.snapshot(o.knex);
    if (o.expectEffect && statesEqual(start, single)) {
      throw new IdempotencyError({
        scenario: 'single',
        problem:
          'A single delivery changed nothing that snapshot() reads, so no scenario could show a double effect. Make snapshot read the tables the handler writes (or pass expectEffect: false).',
        differences: [],
        expected: start,
        actual: single,
        outcomes: once.outcomes,
        handlerCalls: once.handlerCalls,
      });
    }
    const reports: ScenarioReport[] = [];
    for (const scenario of o.scenarios) reports.push(await runScenario(o, scenario, start, single));
    return { consumerName: o.consumerName, start, single, scenarios: reports };
  } catch (error) {
    failed = true;
    throw error;
  } finally {
    // Leave the database as found; a cleanup failure must not hide the real one.
    await restart(o).catch((error: unknown) => {
      if (!failed) throw error;
    });
  }
}

async function runScenario(
  o: ResolvedCheckIdempotencyOptions<unknown>,
  scenario: Scenario,
  start: unknown,
  single: unknown,
): Promise<ScenarioReport> {
  await restart(o);
  const before = await o.snapshot(o.knex);
  if (!statesEqual(start, before)) {
    throw new Error(
      `reset() did not bring the database back to its starting state before scenario "${scenario}", so the scenarios cannot be compared:\n${diffStates(start, before).join('\n')}`,
    );
  }
  const d: Deliveries = { outcomes: [], handlerCalls: 0 };
  const started = performance.now();
  await RUNNERS[scenario](o, d);
  const after = await o.snapshot(o.knex);
  const fail = (problem: string, expected: unknown, actual: unknown) =>
    new IdempotencyError({
      scenario,
      problem,
      differences: diffStates(expected, actual),
      expected,
      actual,
      outcomes: d.outcomes,
      handlerCalls: d.handlerCalls,
    });
  if (!statesEqual(single, after)) {
    throw fail(
      scenario === Scenarios.rollbackThenRedeliver && !statesEqual(start, d.afterRollback)
        ? 'The database differs from a single delivery (a double effect): the rolled-back attempt left writes behind, so the handler writes outside the transaction it is given (through the pool, another connection or an external system).'
        : 'The database differs from a single delivery (a double or missing effect).',
      single,
      after,
    );
  }
  if (scenario === Scenarios.rollbackThenRedeliver && !statesEqual(start, d.afterRollback)) {
    throw fail(
      'After the rolled-back attempt the database was not in its starting state: the handler writes outside the transaction it is given, so a message that fails (or is parked as dead) still leaves an effect.',
      start,
      d.afterRollback,
    );
  }
  return { scenario, outcomes: d.outcomes, handlerCalls: d.handlerCalls, durationMs: Math.round(performance.now() - started) };
}

/** Your reset, then the kit's inbox rows deleted. */
async function restart(o: ResolvedCheckIdempotencyOptions<unknown>): Promise<void> {
  await o.reset(o.knex);
  await clearInbox(o.knex, o.tables.inbox, o.consumerName);
}

async function clearInbox(knex: Knex, inboxTable: string, consumerName: string): Promise<void> {
  await knex.raw(`delete from ${inboxTable} where consumer = ?`, [consumerName]);
}

function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
