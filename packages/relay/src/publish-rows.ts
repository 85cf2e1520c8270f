import type { Publisher } from '@onceflow/core';
import { PublishError } from '@onceflow/core';
import { recordBytes } from './record-bytes.ts';
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

/** How {@link publishRows} sizes its sends. */
export interface SendLimits {
  /** Most estimated record bytes in one send; a record larger than this goes alone. */
  readonly maxBatchBytes: number;
  /** The largest record each topic accepts, where known; larger rows are failed at once. */
  readonly maxRecordBytes: ReadonlyMap<string, number>;
  /** Keys isolated at once after a record-level failure. @defaultValue 8 */
  readonly isolationConcurrency?: number;
}

/**
 * Publishes rows in sends of at most `limits.maxBatchBytes` (estimated), in batch order, so no
 * request grows past what the broker accepts however large the rows. A row larger than its
 * topic accepts is failed without being sent (the broker would refuse it every time). Once a
 * key has a failed or unsent row, its later rows are left pending, so none overtakes it. A
 * broker-wide failure stops everything; rows of earlier sends stay published.
 */
export async function publishRows(publisher: Publisher, batch: readonly OutboxRow[], limits: SendLimits): Promise<PublishOutcome> {
  const { rows, invalid } = withoutInvalidRows(batch, limits.maxRecordBytes);
  const published: OutboxRow[] = [];
  const failed: PublishOutcome['failed'] = [...invalid];
  const stopped = new Set<string>();
  for (const send of sends(rows, limits.maxBatchBytes)) {
    const open = send.filter((row) => !stopped.has(keyOf(row)));
    if (open.length === 0) continue;
    const outcome = await publishSend(publisher, open, limits.isolationConcurrency ?? 8);
    published.push(...outcome.published);
    failed.push(...outcome.failed);
    if (outcome.brokerError !== undefined) return { published, failed, brokerError: outcome.brokerError };
    if (outcome.published.length < open.length) {
      const done = new Set(outcome.published);
      for (const row of open) if (!done.has(row)) stopped.add(keyOf(row));
    }
  }
  return { published, failed, brokerError: undefined };
}

/** Rows cut into runs of at most `maxBytes` estimated record bytes, in order; a larger row runs alone. */
function sends(rows: readonly OutboxRow[], maxBytes: number): OutboxRow[][] {
  const out: OutboxRow[][] = [];
  let current: OutboxRow[] = [];
  let bytes = 0;
  for (const row of rows) {
    const size = recordBytes(toRecord(row));
    if (current.length > 0 && bytes + size > maxBytes) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(row);
    bytes += size;
  }
  if (current.length > 0) out.push(current);
  return out;
}

function keyOf(row: OutboxRow): string {
  return `${row.topic}\u0000${row.key}`;
}

/**
 * Publishes rows in one send. When that fails for a record-level reason, finds the rows at
 * fault: each key's rows are sent as one group (a key's rows share a partition, and Kafka
 * rejects a partition's records together), and a failing group row by row in order; the first
 * failing row of a key stops its key, so no later row of that key overtakes it. Keys are
 * isolated `isolationConcurrency` at a time. A broker-wide failure stops everything.
 */
async function publishSend(publisher: Publisher, rows: readonly OutboxRow[], isolationConcurrency: number): Promise<PublishOutcome> {
  try {
    await publisher.publish(rows.map(toRecord));
    return { published: [...rows], failed: [], brokerError: undefined };
  } catch (error) {
    if (failureScope(error) === 'broker') return { published: [], failed: [], brokerError: error };
  }

  const groups = new Map<string, OutboxRow[]>();
  for (const row of rows) {
    const id = keyOf(row);
    const group = groups.get(id);
    if (group === undefined) groups.set(id, [row]);
    else group.push(row);
  }
  const published = new Set<OutboxRow>();
  const failed: PublishOutcome['failed'] = [];
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
  const workers = Array.from({ length: Math.min(isolationConcurrency, queue.length) }, async () => {
    for (let group = queue.shift(); group !== undefined; group = queue.shift()) await sendGroup(group);
  });
  await Promise.all(workers);
  return { published: rows.filter((r) => published.has(r)), failed, brokerError };
}

/**
 * Splits off rows that cannot be published as they are (see {@link rowProblem}) or that are
 * larger than their topic accepts. Later rows of
 * an invalid row's key stay out of this batch too, so none overtakes it; they go once the
 * invalid row is dead (and, with onDead 'block', not before it is requeued).
 */
function withoutInvalidRows(
  batch: readonly OutboxRow[],
  maxRecordBytes: ReadonlyMap<string, number>,
): { rows: OutboxRow[]; invalid: PublishOutcome['failed'] } {
  const invalid: PublishOutcome['failed'] = [];
  const held = new Set<string>();
  const rows: OutboxRow[] = [];
  for (const row of batch) {
    const id = keyOf(row);
    if (held.has(id)) continue;
    const problem = rowProblem(row) ?? sizeProblem(row, maxRecordBytes.get(row.topic));
    if (problem === undefined) {
      rows.push(row);
    } else {
      invalid.push({ row, error: problem });
      held.add(id);
    }
  }
  return { rows, invalid };
}

/** A non-retriable failure for a row larger than its topic's limit, or undefined. */
function sizeProblem(row: OutboxRow, limit: number | undefined): PublishError | undefined {
  if (limit === undefined) return undefined;
  const size = recordBytes(toRecord(row));
  if (size <= limit) return undefined;
  return new PublishError(
    `Record too large (MESSAGE_TOO_LARGE): outbox row ${row.id} makes a record of about ${size} bytes, but topic ${row.topic} accepts at most ${limit} (max.message.bytes); it is never sent`,
    { retriable: false, scope: 'record', topic: row.topic },
  );
}
