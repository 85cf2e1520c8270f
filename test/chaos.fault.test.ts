import { randomInt } from 'node:crypto';
import { expect, it } from 'vitest';
import { runChaos, summaryLine } from './chaos/harness.ts';
import { profiles } from './chaos/profiles.ts';
import { faultKindsOf } from './chaos/schedule.ts';

// The chaos suite at CI scale: producers, relays and consumers as real processes against the real
// PostgreSQL (or, with ONCEFLOW_TEST_DB=mariadb, MariaDB) and Kafka, under SIGKILL, SIGSTOP
// zombies, Kafka restarts, terminated (on MariaDB: killed) sessions, rebalances and duplicate
// storms. A new seed each run (CHAOS_SEED replays one); a failure prints
// the seed and `pnpm chaos --profile ci --seed N` replays the same schedule.
it('keeps every committed message exactly once and in key order through the fault schedule', async () => {
  const seed = process.env.CHAOS_SEED === undefined ? randomInt(1, 2 ** 31 - 1) : Number(process.env.CHAOS_SEED);
  const report = await runChaos({ profile: profiles.ci, seed });
  const line = summaryLine(report);
  process.stdout.write(`${JSON.stringify(line)}\n`);

  expect({ lost: line.lost, double: line.double, reordered: line.reordered }, `seed ${seed}`).toEqual({ lost: 0, double: 0, reordered: 0 });
  expect(report.check.messages).toBe(profiles.ci.messages);
  expect(report.check.rolledBack).toBeGreaterThan(0);
  for (const kind of faultKindsOf(profiles.ci)) expect(report.faultsByKind[kind], `${kind} faults (seed ${seed})`).toBeGreaterThan(0);
  // Every other invariant too: nothing pending or in flight, dead letters exactly for poison,
  // no phantom effects, no process that died without being told to.
  expect(report.failures, `seed ${seed}, logs in ${report.logDir}`).toEqual([]);
});
