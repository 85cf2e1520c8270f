import type { OutgoingRecord, Publisher } from '@onceflow/core';
import { PublishError } from '@onceflow/core';
import { describe, expect, it } from 'vitest';
import { failureScope, publishRows } from './publish-rows.ts';
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
const brokerError = () => new PublishError('broker down', { retriable: true, scope: 'broker' });

describe('publishRows', () => {
  it('sends a healthy batch in one call', async () => {
    const publisher = fakePublisher(() => undefined);
    const rows = [row(1, 'a'), row(2, 'b'), row(3, 'a')];
    const outcome = await publishRows(publisher, rows);
    expect(publisher.sent).toEqual([['1', '2', '3']]);
    expect(outcome.published).toEqual(rows);
    expect(outcome.failed).toEqual([]);
  });

  it('isolates a failing row: its key stops there, other keys and earlier rows go on', async () => {
    const publisher = fakePublisher((r) => (r.value.toString() === '3' ? recordError() : undefined));
    const rows = [row(1, 'a'), row(2, 'b'), row(3, 'a'), row(4, 'b'), row(5, 'a')];
    const outcome = await publishRows(publisher, rows, 1);
    expect(outcome.published.map((r) => r.seq)).toEqual(['1', '2', '4']);
    expect(outcome.failed.map((f) => f.row.seq)).toEqual(['3']);
    expect(outcome.brokerError).toBeUndefined();
    // Row 5 (after the failing row of key a) was never sent.
    expect(publisher.sent.flat()).not.toContain('5');
  });

  it('stops at a broker-wide failure and blames no row', async () => {
    const publisher = fakePublisher(() => brokerError());
    const outcome = await publishRows(publisher, [row(1, 'a'), row(2, 'b')]);
    expect(outcome).toMatchObject({ published: [], failed: [] });
    expect(outcome.brokerError).toBeInstanceOf(PublishError);
  });

  it('classifies errors by their scope; unknown errors are record-level', () => {
    expect(failureScope(brokerError())).toBe('broker');
    expect(failureScope(recordError())).toBe('record');
    expect(failureScope(new Error('?'))).toBe('record');
    expect(failureScope(undefined)).toBe('record');
  });
});
