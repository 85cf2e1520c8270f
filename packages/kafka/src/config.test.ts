import { describe, expect, it } from 'vitest';
import { createKafka } from './config.ts';

describe('createKafka', () => {
  it('names the broker entry that is not host:port', () => {
    expect(() => createKafka({ brokers: ['kafka-1:9092', 'bogus'] })).toThrow(
      /Invalid option brokers: expected every entry a "host:port".*received "bogus"/,
    );
    expect(() => createKafka({ brokers: [] })).toThrow(/Invalid option brokers: expected a non-empty list/);
    expect(() => createKafka({ brokers: ['kafka-1:9092', 'kafka-2:9092'] })).not.toThrow();
  });
});
