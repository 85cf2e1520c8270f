export type { IdempotencyReport } from './check-idempotency.ts';
export { checkIdempotency } from './check-idempotency.ts';
export type { IdempotencyFailure, Scenario, ScenarioReport } from './idempotency-error.ts';
export { ALL_SCENARIOS, IdempotencyError, SCENARIO_DESCRIPTIONS, Scenarios } from './idempotency-error.ts';
export type { MakeMessageOptions } from './make-message.ts';
export { makeMessage, redeliveryOf } from './make-message.ts';
export type { CheckIdempotencyOptions, ResolvedCheckIdempotencyOptions } from './options.ts';
export { resolveCheckIdempotencyOptions } from './options.ts';
export { canonicalState, diffStates, statesEqual } from './state-diff.ts';
