import { randomInt } from 'node:crypto';
import { runChaos, summaryLine } from './harness.ts';
import type { ProfileName } from './profiles.ts';
import { profiles } from './profiles.ts';

/**
 * `pnpm chaos [--long | --profile short|ci|long|smoke] [--seed N]`: one chaos run against the real
 * PostgreSQL (DATABASE_URL) and Kafka (KAFKA_BROKERS). Prints one JSON line on stdout, progress
 * on stderr, and exits 1 when an invariant fails.
 */
function parseArgs(argv: string[]): { profile: ProfileName; seed: number; sabotage: 'dedup-by-offset' | undefined } {
  let profile: ProfileName = 'short';
  let sabotage: 'dedup-by-offset' | undefined;
  let seed = randomInt(1, 2 ** 31 - 1);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) usage(`${arg} needs a value`);
      return v as string;
    };
    if (arg === '--long') profile = 'long';
    else if (arg === '--short') profile = 'short';
    else if (arg === '--profile') {
      const name = value();
      if (!(name in profiles)) usage(`unknown profile ${name}`);
      profile = name as ProfileName;
    } else if (arg === '--seed') {
      const v = Number(value());
      if (!Number.isInteger(v) || v < 0 || v >= 2 ** 32) usage('--seed takes an integer from 0 to 4294967295');
      seed = v;
    } else if (arg === '--sabotage') {
      if (value() !== 'dedup-by-offset') usage('--sabotage takes dedup-by-offset');
      sabotage = 'dedup-by-offset';
    } else if (arg !== '--') usage(`unknown argument ${arg}`);
  }
  return { profile, seed, sabotage };
}

function usage(problem: string): never {
  process.stderr.write(
    `${problem}\nusage: pnpm chaos [--long | --profile short|ci|long|smoke] [--seed N] [--sabotage dedup-by-offset (self-test: must fail)]\n`,
  );
  process.exit(2);
}

const { profile, seed, sabotage } = parseArgs(process.argv.slice(2));
const abort = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`chaos: ${signal}: stopping the run and cleaning up (seed ${seed})\n`);
    abort.abort();
  });
}
try {
  const report = await runChaos({
    profile: profiles[profile],
    seed,
    signal: abort.signal,
    ...(sabotage === undefined ? {} : { sabotage }),
  });
  for (const crash of report.crashes) process.stderr.write(`chaos: crash: ${crash}\n`);
  if (!report.ok)
    process.stderr.write(`chaos: FAILED (${report.failures.join(', ')}); replay with: pnpm chaos --profile ${profile} --seed ${seed}\n`);
  process.stdout.write(`${JSON.stringify(summaryLine(report))}\n`);
  process.exitCode = report.ok ? 0 : 1;
} catch (error) {
  process.stderr.write(`chaos: the run itself failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.stdout.write(`${JSON.stringify({ suite: 'chaos', seed, profile, ok: false, error: String(error) })}\n`);
  process.exitCode = 1;
}
