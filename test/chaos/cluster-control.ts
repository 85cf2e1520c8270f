import { join } from 'node:path';
import type { Admin, Kafka } from 'kafkajs';
import type { PartitionState } from '../../scripts/kafka-topic-state.ts';
import { describePartition, leaderOf, waitIsrWhole } from '../../scripts/kafka-topic-state.ts';
import { runCommand } from './kafka-control.ts';

/** The brokers of the three-node cluster of `scripts/kafka.sh` cluster mode. */
export const CLUSTER_BROKERS = '127.0.0.1:9192,127.0.0.1:9193,127.0.0.1:9194';

/** The cluster's nodes (node ids, also broker ids). */
export const CLUSTER_NODES = [1, 2, 3] as const;

type NodeVerb = 'start' | 'stop' | 'kill' | 'freeze' | 'thaw';

/**
 * Faults on single nodes of the local three-node cluster, through `scripts/kafka.sh node-*`, and
 * the questions around them (which node leads a partition, is every ISR whole again), through the
 * cluster's own metadata. Remembers the nodes it took down or froze, so the run can leave the
 * cluster whole whatever happened.
 */
export class ClusterControl {
  readonly #script: string;
  readonly #root: string;
  readonly #admin: Admin;
  readonly #impaired = new Set<number>();

  constructor(root: string, kafka: Kafka) {
    this.#root = root;
    this.#script = `bash ${JSON.stringify(join(root, 'scripts', 'kafka.sh'))}`;
    this.#admin = kafka.admin();
  }

  /** Starts the nodes that are not running (no-op when all three are up) and connects the admin client. */
  async start(): Promise<void> {
    await runCommand(`KAFKA_CLUSTER=3 ${this.#script}`, 'start', this.#root);
    await this.#admin.connect();
  }

  /** Node ids whose broker this control stopped, killed or froze and has not brought back. */
  get impaired(): number[] {
    return [...this.#impaired].sort();
  }

  async node(verb: NodeVerb, node: number): Promise<void> {
    if (verb !== 'start' && verb !== 'thaw') this.#impaired.add(node);
    await runCommand(this.#script, `node-${verb} ${node}`, this.#root);
    if (verb === 'start' || verb === 'thaw') this.#impaired.delete(node);
  }

  /** The node leading `topic`/`partition`, or -1 while none does. */
  leaderOf(topic: string, partition: number): Promise<number> {
    return leaderOf(this.#admin, topic, partition);
  }

  /** Waits until every partition of `topics` has a leader and a whole ISR; throws with the short ones after `timeoutMs`. */
  async waitIsrWhole(topics: readonly string[], timeoutMs: number): Promise<void> {
    const short: PartitionState[] = await waitIsrWhole(this.#admin, topics, timeoutMs);
    if (short.length > 0) {
      throw new Error(`ISR not whole ${timeoutMs} ms after the fault: ${short.slice(0, 6).map(describePartition).join('; ')}`);
    }
  }

  /** Thaws and starts whatever this control left impaired, so the cluster is whole after the run. */
  async restore(): Promise<void> {
    for (const node of this.impaired) {
      await this.node('thaw', node).catch(() => undefined);
      await this.node('start', node);
    }
  }

  async close(): Promise<void> {
    await this.#admin.disconnect().catch(() => undefined);
  }
}
