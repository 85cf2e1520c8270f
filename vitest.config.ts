import { defineConfig } from 'vitest/config';

// Workspace packages export their TypeScript sources under this condition (their published
// `exports` default to the built dist/), so tests run on src/ with no build step. Vite resolves
// the test files' imports with it; processes and threads the tests start inherit it through
// NODE_OPTIONS.
const SOURCE_CONDITION = 'onceflow-source';
if (!(process.env.NODE_OPTIONS ?? '').includes(`--conditions=${SOURCE_CONDITION}`)) {
  process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --conditions=${SOURCE_CONDITION}`.trim();
}

/**
 * The test matrix: these files run twice, on PostgreSQL (in the projects above) and on MariaDB
 * (in the `mariadb` projects, with ONCEFLOW_TEST_DB=mariadb), with the same assertions. Each
 * takes everything database-specific from test/support/database.ts.
 */
const MATRIX: string[] = [
  'test/chaos/checker.test.ts',
  'test/cli-schema.test.ts',
  'test/migrate.test.ts',
  'test/cli-dead-letters.test.ts',
  'test/consumer-inbox.test.ts',
  'test/dead-letter-replay.test.ts',
  'test/dead-letter-ids.test.ts',
  'test/consumer-crash.test.ts',
  'test/consumer-watermark.test.ts',
  'test/consumer-lanes.test.ts',
  'test/consumer-new-group.test.ts',
  'test/consumer-kafka.test.ts',
  'test/consumer-type-filter.test.ts',
  'test/e2e.test.ts',
  'test/relay.test.ts',
  'test/claim-due.test.ts',
  'test/relay-limits.test.ts',
  'test/relay-batch-bytes.test.ts',
  'test/relay-ordering.test.ts',
  'test/consumer-dedup-modes.test.ts',
  'test/cli-status.test.ts',
  'test/cli-dead.test.ts',
  'test/cli-migrate.test.ts',
  'test/metrics.test.ts',
];
const MATRIX_FAULTS: string[] = ['test/relay-crash.fault.test.ts', 'test/chaos.fault.test.ts'];
const ON_MARIADB = { ONCEFLOW_TEST_DB: 'mariadb' };
const MARIADB = {
  test: {
    name: 'mariadb',
    include: MATRIX,
    env: ON_MARIADB,
    testTimeout: 180_000,
    hookTimeout: 60_000,
    maxWorkers: 2,
    // After the PostgreSQL files, so the two servers' files do not crowd the two cores at once.
    sequence: { groupOrder: 1 },
  },
};
const MARIADB_FAULTS = {
  test: {
    name: 'mariadb-faults',
    include: MATRIX_FAULTS,
    env: ON_MARIADB,
    testTimeout: 600_000,
    hookTimeout: 120_000,
    maxWorkers: 1,
    fileParallelism: false,
    sequence: { groupOrder: 3 },
  },
};

export default defineConfig({
  resolve: { conditions: [SOURCE_CONDITION, 'module', 'node', 'development|production'] },
  ssr: { resolve: { conditions: [SOURCE_CONDITION, 'module', 'node', 'development|production'], externalConditions: [SOURCE_CONDITION] } },
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['packages/*/src/**/*.test.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts', 'examples/src/**/*.test.ts'],
          exclude: ['**/node_modules/**', 'test/**/*.fault.test.ts'],
          testTimeout: 180_000,
          hookTimeout: 60_000,
          // Files share one broker and one PostgreSQL server on a 2-core machine.
          maxWorkers: 2,
        },
      },
      {
        test: {
          name: 'faults',
          // These stop and restart the shared Kafka broker or kill PostgreSQL sessions, so they
          // run alone, one file at a time, after everything else.
          include: ['test/**/*.fault.test.ts'],
          exclude: ['**/node_modules/**'],
          testTimeout: 600_000,
          hookTimeout: 120_000,
          maxWorkers: 1,
          fileParallelism: false,
          sequence: { groupOrder: 2 },
        },
      },
      // Vitest refuses a project without files.
      ...(MATRIX.length > 0 ? [MARIADB] : []),
      ...(MATRIX_FAULTS.length > 0 ? [MARIADB_FAULTS] : []),
    ],
  },
});
