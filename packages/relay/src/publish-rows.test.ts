import type { OutgoingRecord, Publisher } from '@onceflow/core';
import { PublishError } from '@onceflow/core';
import { describe, expect, it } from 'vitest';
import { failureScope, publishRows } from './publish-rows.ts';
import { recordBytes } from './record-bytes.ts';
import { toRecord } from './records.ts';
import type { OutboxRow } from './sql/claim-batch.ts';

function row(seq: number, key: string): OutboxRow {
  return {
    seq: String(seq),
    id: `00000000-0000-7000-8000-${String(seq).padStart(12, '0')}`,
    topic: 't',
    key,
    shard: 0,
    idempotency_key: `i${seq}`,
    type: null,
    payload: Buffer.from(String(seq)),
    headers: {},
    created_at: '1970-01-01T00:00:00.000Z',
    attempts: 0,
  };
}

/** Records every send; refuses sends containing a record `refuse` picks. */
function fakePublisher(refuse: (r: OutgoingRecord) => PublishError | undefined): Publisher & { sent: string[][] } {
  const sent: string[][] = [];
  return {
    sent,
    connect: async () => {},
    disconnect: async () => {},
    publish: async (records) => {
      for (const r of records) {
        const error = refuse(r);
        if (error !== undefined) throw error;
      }
      sent.push(records.map((r) => r.value.toString()));
    },
  };
}

const recordError = () => new PublishError('bad record', { retriable: true, scope: 'record' });
const LIMITS = { maxBatchBytes: 1_000_000, maxRecordBytes: new Map<string, number>() };
const brokerError = () => new PublishError('broker down', { retriable: true, scope: 'broker' });

describe('publishRows', () => {
  it('sends a healthy batch in one call', async () => {
    const publisher = fakePublisher(() => undefined);
    const rows = [row(1, 'a'), row(2, 'b'), row(3, 'a')];
    const outcome = await publishRows(publisher, rows, LIMITS);
    expect(publisher.sent).toEqual([['1', '2', '3']]);
    expect(outcome.published).toEqual(rows);
    expect(outcome.failed).toEqual([]);
  });

  it('isolates a failing row: its key stops there, other keys and earlier rows go on', async () => {
    const publisher = fakePublisher((r) => (r.value.toString() === '3' ? recordError() : undefined));
    const rows = [row(1, 'a'), row(2, 'b'), row(3, 'a'), row(4, 'b'), row(5, 'a')];
    const outcome = await publishRows(publisher, rows, { ...LIMITS, isolationConcurrency: 1 });
    expect(outcome.published.map((r) => r.seq)).toEqual(['1', '2', '4']);
    expect(outcome.failed.map((f) => f.row.seq)).toEqual(['3']);
    expect(outcome.brokerError).toBeUndefined();
    // Row 5 (after the failing row of key a) was never sent.
    expect(publisher.sent.flat()).not.toContain('5');
  });

  it('stops at a broker-wide failure and blames no row', async () => {
    const publisher = fakePublisher(() => brokerError());
    const outcome = await publishRows(publisher, [row(1, 'a'), row(2, 'b')], LIMITS);
    expect(outcome).toMatchObject({ published: [], failed: [] });
    expect(outcome.brokerError).toBeInstanceOf(PublishError);
  });

  it('splits a batch into sends bounded in bytes, in order; a larger row goes alone', async () => {
    const publisher = fakePublisher(() => undefined);
    const big = (seq: number, key: string, bytes: number) => ({ ...row(seq, key), payload: Buffer.alloc(bytes, 120) });
    const rows = [big(1, 'a', 300), big(2, 'b', 300), big(3, 'a', 300), big(4, 'c', 2_000), big(5, 'b', 10)];
    const each = rows.map((r) => recordBytes(toRecord(r)));
    const outcome = await publishRows(publisher, rows, { ...LIMITS, maxBatchBytes: (each[0] as number) * 2 });
    expect(publisher.sent.map((send) => send.length)).toEqual([2, 1, 1, 1]);
    expect(outcome.published).toEqual(rows);
  });

  it('a key whose row failed in one send sends none of its rows in later sends', async () => {
    const publisher = fakePublisher((r) => (r.value.toString() === '1' ? recordError() : undefined));
    const rows = [row(1, 'a'), row(2, 'b'), row(3, 'a'), row(4, 'b')];
    const outcome = await publishRows(publisher, rows, { ...LIMITS, maxBatchBytes: recordBytes(toRecord(rows[0] as OutboxRow)) * 2 });
    expect(outcome.published.map((r) => r.seq)).toEqual(['2', '4']);
    expect(outcome.failed.map((f) => f.row.seq)).toEqual(['1']);
    expect(publisher.sent.flat()).not.toContain('3');
  });

  it('fails a row larger than its topic accepts without sending it, non-retriable; its key waits, others go', async () => {
    const publisher = fakePublisher(() => undefined);
    const rows = [{ ...row(1, 'a'), payload: Buffer.alloc(5_000) }, row(2, 'a'), row(3, 'b')];
    const outcome = await publishRows(publisher, rows, { ...LIMITS, maxRecordBytes: new Map([['t', 1_000]]) });
    expect(outcome.published.map((r) => r.seq)).toEqual(['3']);
    expect(outcome.failed.map((f) => f.row.seq)).toEqual(['1']);
    const error = outcome.failed[0]?.error as PublishError;
    expect(error).toBeInstanceOf(PublishError);
    expect(error.retriable).toBe(false);
    expect(error.message).toMatch(/MESSAGE_TOO_LARGE.*topic t accepts at most 1000/);
    expect(publisher.sent).toEqual([['3']]);
  });

  it('classifies errors by their scope; unknown errors are record-level', () => {
    expect(failureScope(brokerError())).toBe('broker');
    expect(failureScope(recordError())).toBe('record');
    expect(failureScope(new Error('?'))).toBe('record');
    expect(failureScope(undefined)).toBe('record');
  });
});
