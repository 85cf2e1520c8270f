import type { Publisher } from '@onceflow/core';
import { toRecord } from './records.ts';
import type { OutboxRow } from './sql/claim-batch.ts';
import { rowProblem } from './validate-row.ts';

/**
 * Whether a publish failure is about the broker as a whole (`'broker'`: every record would
 * fail alike, so no message is to blame) or about the records sent (`'record'`). Transports
 * say so on their errors (`scope`, as the Kafka transport's PublishError does); an error
 * without a scope is taken as record-level, so isolation can find the message at fault.
 */
export function failureScope(error: unknown): 'broker' | 'record' {
  const scope = error !== null && typeof error === 'object' ? (error as { scope?: unknown }).scope : undefined;
  return scope === 'broker' ? 'broker' : 'record';
}

/** What became of a batch. Rows neither published nor failed are untouched and stay pending. */
export interface PublishOutcome {
  /** Rows the broker acknowledged, in batch order. */
  published: OutboxRow[];
  /** Rows that failed for a record-level reason; later rows of their key in the batch were not sent. */
  failed: Array<{ row: OutboxRow; error: unknown }>;
  /** Set when the broker was unavailable: publishing stopped there and no row is to blame. */
  brokerError: unknown;
}

/**
 * Publishes rows in one send. When that fails for a record-level reason, finds the rows at
 * fault: each key's rows are sent as one group (a key's rows share a partition, and Kafka
 * rejects a partition's records together), and a failing group row by row in order; the first
 * failing row of a key stops its key, so no later row of that key overtakes it. Keys are
 * isolated `isolationConcurrency` at a time. A broker-wide failure stops everything.
 */
export async function publishRows(publisher: Publisher, batch: readonly OutboxRow[], isolationConcurrency = 8): Promise<PublishOutcome> {
  const { rows, invalid } = withoutInvalidRows(batch);
  if (rows.length === 0) return { published: [], failed: invalid, brokerError: undefined };
  try {
    await publisher.publish(rows.map(toRecord));
    return { published: [...rows], failed: invalid, brokerError: undefined };
  } catch (error) {
    if (failureScope(error) === 'broker') return { published: [], failed: invalid, brokerError: error };
  }

  const groups = new Map<string, OutboxRow[]>();
  for (const row of rows) {
    const id = `${row.topic}\u0000${row.key}`;
    const group = groups.get(id);
    if (group === undefined) groups.set(id, [row]);
    else group.push(row);
  }
  const published = new Set<OutboxRow>();
  const failed: PublishOutcome['failed'] = [...invalid];
  let brokerError: unknown;
  let brokerFailed = false;

  const sendGroup = async (group: OutboxRow[]): Promise<void> => {
    if (brokerFailed) return;
    try {
      await publisher.publish(group.map(toRecord));
      for (const row of group) published.add(row);
      return;
    } catch (error) {
      if (failureScope(error) === 'broker') {
        brokerFailed = true;
        brokerError = error;
        return;
      }
      if (group.length === 1) {
        failed.push({ row: group[0] as OutboxRow, error });
        return;
      }
    }
    for (const row of group) {
      if (brokerFailed) return;
      try {
        await publisher.publish([toRecord(row)]);
        published.add(row);
      } catch (error) {
        if (failureScope(error) === 'broker') {
          brokerFailed = true;
          brokerError = error;
        } else {
          failed.push({ row, error });
        }
        return;
      }
    }
  };

  const queue = [...groups.values()];
  const lanes = Array.from({ length: Math.min(isolationConcurrency, queue.length) }, async () => {
    for (let group = queue.shift(); group !== undefined; group = queue.shift()) await sendGroup(group);
  });
  await Promise.all(lanes);
  return { published: rows.filter((r) => published.has(r)), failed, brokerError };
}

/**
 * Splits off rows that cannot be published as they are (see {@link rowProblem}). Later rows of
 * an invalid row's key stay out of this batch too, so none overtakes it; they go once the
 * invalid row is dead (and, with onDead 'block', not before it is requeued).
 */
function withoutInvalidRows(batch: readonly OutboxRow[]): { rows: OutboxRow[]; invalid: PublishOutcome['failed'] } {
  const invalid: PublishOutcome['failed'] = [];
  const held = new Set<string>();
  const rows: OutboxRow[] = [];
  for (const row of batch) {
    const id = `${row.topic}\u0000${row.key}`;
    if (held.has(id)) continue;
    const problem = rowProblem(row);
    if (problem === undefined) {
      rows.push(row);
    } else {
      invalid.push({ row, error: problem });
      held.add(id);
    }
  }
  return { rows, invalid };
}
