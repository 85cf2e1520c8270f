import { describe, expect, it } from 'vitest';
import { checkReplication, ReplicationError, replicationProblems } from './replication.ts';

const facts = (topic: string, replicationFactor: number, minInsyncReplicas: number) => ({
  topic,
  replicationFactor,
  minInsyncReplicas,
  maxMessageBytes: 1_048_588,
});
const quiet = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };

describe('replication check', () => {
  it('names each topic below replication factor 3 or min.insync.replicas 2 with the values found', () => {
    const problems = replicationProblems([
      facts('durable', 3, 2),
      facts('single', 1, 1),
      facts('few-isr', 3, 1),
      facts('unknown-isr', 3, Number.NaN),
    ]);
    expect(problems).toHaveLength(2);
    expect(problems[0]).toContain('topic "single" has replication factor 1 and min.insync.replicas 1');
    expect(problems[1]).toContain('topic "few-isr" has min.insync.replicas 1');
  });

  it('warns per topic, or refuses with every problem when strict', async () => {
    const warned: string[] = [];
    const logger = { ...quiet, warn: (_f: unknown, message: string) => warned.push(message) };
    const describe = async () => [facts('orders', 1, 1)];
    await checkReplication(describe, ['orders'], false, logger);
    expect(warned).toHaveLength(1);
    const error = await checkReplication(describe, ['orders'], true, logger).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReplicationError);
    expect((error as Error).message).toContain('topic "orders" has replication factor 1');
    await expect(checkReplication(async () => [facts('orders', 3, 2)], ['orders'], true, logger)).resolves.toBeUndefined();
    await expect(checkReplication(undefined, ['orders'], true, logger)).resolves.toBeUndefined();
  });
});
