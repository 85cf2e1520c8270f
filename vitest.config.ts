import { defineConfig } from 'vitest/config';

export default defineConfig({
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
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
