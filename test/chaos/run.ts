import { randomInt } from 'node:crypto';
import type { ChaosProfile, ProfileName } from './profiles.ts';
import { clusterProfile, profiles } from './profiles.ts';

/**
 * `pnpm chaos [--long | --profile short|ci|long|smoke] [--cluster] [--pg-restarts N] [--seed N]`:
 * one chaos run against the real PostgreSQL (DATABASE_URL) or MariaDB/MySQL (a `mysql://`
 * DATABASE_URL, or ONCEFLOW_TEST_DB=mariadb with MARIADB_URL) and Kafka (KAFKA_BROKERS, or with
 * `--cluster` the local three-node cluster). Prints one JSON line on stdout, progress on stderr,
 * and exits 1 when an invariant fails.
 */
interface Args {
  profile: ProfileName;
  cluster: boolean;
  pgRestarts: number | undefined;
  seed: number;
  sabotage: 'dedup-by-offset' | undefined;
}

function parseArgs(argv: string[]): Args {
  let profile: ProfileName = 'short';
  let cluster = false;
  let pgRestarts: number | undefined;
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
    else if (arg === '--cluster') cluster = true;
    else if (arg === '--pg-restarts') {
      const v = Number(value());
      if (!Number.isInteger(v) || v < 0 || v > 100) usage('--pg-restarts takes an integer from 0 to 100');
      pgRestarts = v;
    } else if (arg === '--short') profile = 'short';
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
  return { profile, cluster, pgRestarts, seed, sabotage };
}

function usage(problem: string): never {
  process.stderr.write(
    `${problem}\nusage: pnpm chaos [--long | --profile short|ci|long|smoke] [--cluster] [--pg-restarts N] [--seed N] [--sabotage dedup-by-offset (self-test: must fail)]\n` +
      '  --cluster         the local three-node Kafka cluster (KAFKA_CLUSTER=3 bash scripts/kafka.sh start), with its broker faults\n' +
      '  --pg-restarts N   real PostgreSQL restarts in the schedule (default: 6 in long, else 0; they restart the server of DATABASE_URL)\n' +
      '  DATABASE_URL=mysql://root@127.0.0.1:3306 runs on MariaDB/MySQL (short, ci and smoke profiles; no server restarts)\n',
  );
  process.exit(2);
}

/**
 * A `mysql://` (or `mariadb://`) DATABASE_URL means MariaDB or MySQL: said the way the test
 * support reads it (ONCEFLOW_TEST_DB, MARIADB_URL without a database), before it is loaded.
 */
function selectDatabase(): void {
  const url = process.env.DATABASE_URL;
  if (url === undefined || !/^(mysql|mariadb):/.test(url)) return;
  const server = new URL(url);
  server.pathname = '';
  process.env.ONCEFLOW_TEST_DB = 'mariadb';
  process.env.MARIADB_URL = server.toString().replace(/\/$/, '');
}

selectDatabase();
const { runChaos, summaryLine } = await import('./harness.ts');
const args = parseArgs(process.argv.slice(2));
const { seed, sabotage } = args;
const chosen: ChaosProfile = args.cluster ? clusterProfile(args.profile) : profiles[args.profile];
const profile: ChaosProfile = args.pgRestarts === undefined ? chosen : { ...chosen, pgRestarts: args.pgRestarts };
const replay = [
  `--profile ${args.profile}`,
  ...(args.cluster ? ['--cluster'] : []),
  ...(args.pgRestarts === undefined ? [] : [`--pg-restarts ${args.pgRestarts}`]),
  `--seed ${seed}`,
].join(' ');
const abort = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`chaos: ${signal}: stopping the run and cleaning up (seed ${seed})\n`);
    abort.abort();
  });
}
try {
  const report = await runChaos({
    profile,
    seed,
    signal: abort.signal,
    ...(sabotage === undefined ? {} : { sabotage }),
  });
  for (const crash of report.crashes) process.stderr.write(`chaos: crash: ${crash}\n`);
  if (!report.ok) process.stderr.write(`chaos: FAILED (${report.failures.join(', ')}); replay with: pnpm chaos ${replay}\n`);
  process.stdout.write(`${JSON.stringify(summaryLine(report))}\n`);
  process.exitCode = report.ok ? 0 : 1;
} catch (error) {
  process.stderr.write(`chaos: the run itself failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.stdout.write(`${JSON.stringify({ suite: 'chaos', seed, profile: profile.name, ok: false, error: String(error) })}\n`);
  process.exitCode = 1;
}
