import { ErrorCodes, OnceflowError } from '@onceflow/core';
import { canonicalState } from './state-diff.ts';

/** The scenarios {@link checkIdempotency} runs, by name. */
export const Scenarios = {
  /** Delivered, then delivered again later (a relay re-publish: same headers, a new offset). */
  sequential: 'sequential',
  /** Two copies at the same moment through two inboxes; the second waits on the first's inbox row. */
  concurrent: 'concurrent',
  /** Delivered and committed, then the same record again, as Kafka redelivers after a lost offset commit. */
  crashBeforeOffsetCommit: 'crash-before-offset-commit',
  /** The handler ran but its transaction rolled back (a crash or failure before the DB commit); then redelivered. */
  rollbackThenRedeliver: 'rollback-then-redeliver',
} as const;

/** One of {@link Scenarios}. */
export type Scenario = (typeof Scenarios)[keyof typeof Scenarios];

/** Every scenario, in the order {@link checkIdempotency} runs them. */
export const ALL_SCENARIOS: readonly Scenario[] = Object.values(Scenarios);

/** What each scenario does, for reports and error messages. */
export const SCENARIO_DESCRIPTIONS: Readonly<Record<Scenario | 'single', string>> = {
  single: 'one delivery (the reference state)',
  sequential: 'delivered twice in sequence (the second copy re-published with a new offset)',
  concurrent: 'two copies delivered at the same moment (the second waited on the first copy’s inbox row)',
  'crash-before-offset-commit':
    'delivered and committed, then the consumer "crashed" before its offset commit and Kafka redelivered the same record',
  'rollback-then-redeliver':
    'the handler ran but its transaction rolled back (a crash before the DB commit), then the message was redelivered',
};

/** What happened in one scenario. */
export interface ScenarioReport {
  readonly scenario: Scenario;
  /** The inbox's answer to each delivery, in order (`rolled back` for the simulated crash). */
  readonly outcomes: readonly string[];
  /** How often the handler was called. */
  readonly handlerCalls: number;
  readonly durationMs: number;
}

/** Details of an {@link IdempotencyError}. */
export interface IdempotencyFailure {
  readonly scenario: Scenario | 'single';
  /** What went wrong, in one sentence. */
  readonly problem: string;
  /** The differences between the two states, one per line (see {@link diffStates}). */
  readonly differences: readonly string[];
  /** The state after a single delivery (or the starting state, where that is the reference). */
  readonly expected: unknown;
  /** The state the scenario left. */
  readonly actual: unknown;
  readonly outcomes: readonly string[];
  readonly handlerCalls: number;
}

/**
 * A handler's effect under a redelivery scenario differs from a single delivery. The message
 * names the scenario and lists each difference. Like an assertion error it carries `expected`
 * and `actual` (with `showDiff`), which test runners (vitest, jest, mocha) show side by side.
 */
export class IdempotencyError extends OnceflowError {
  /** The state after a single delivery (canonical: keys sorted, rows in a stable order). */
  readonly expected: unknown;
  /** The state the scenario left (canonical). */
  readonly actual: unknown;
  /** Asks test runners to show the difference between `expected` and `actual`. */
  readonly showDiff = true;
  /** The scenario that failed, or `single` when the reference delivery itself failed. */
  readonly scenario: Scenario | 'single';
  /** The differences, one per line. */
  readonly differences: readonly string[];
  /** Inbox outcomes of the deliveries of the failing scenario. */
  readonly outcomes: readonly string[];
  /** Handler calls in the failing scenario. */
  readonly handlerCalls: number;

  constructor(failure: IdempotencyFailure) {
    const lines = [
      `Handler is not idempotent under scenario "${failure.scenario}": ${SCENARIO_DESCRIPTIONS[failure.scenario]}.`,
      failure.problem,
      ...(failure.differences.length > 0
        ? ['Differences (+ extra in this scenario, - missing):', ...failure.differences.map((d) => `  ${d}`)]
        : []),
      `Deliveries: ${failure.outcomes.length === 0 ? 'none' : failure.outcomes.join(', ')}; handler calls: ${failure.handlerCalls}.`,
      `Expected: ${truncate(JSON.stringify(canonicalState(failure.expected)))}`,
      `Actual:   ${truncate(JSON.stringify(canonicalState(failure.actual)))}`,
    ];
    super(ErrorCodes.notIdempotent, lines.join('\n'));
    this.expected = canonicalState(failure.expected);
    this.actual = canonicalState(failure.actual);
    this.scenario = failure.scenario;
    this.differences = failure.differences;
    this.outcomes = failure.outcomes;
    this.handlerCalls = failure.handlerCalls;
  }
}

function truncate(text: string | undefined, max = 2_000): string {
  if (text === undefined) return 'undefined';
  return text.length > max ? `${text.slice(0, max - 3)}... (${text.length} chars)` : text;
}
