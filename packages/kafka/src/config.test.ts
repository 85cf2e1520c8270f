import { describe, expect, it } from 'vitest';
import { createKafka, kafkaLogLevel } from './config.ts';

describe('createKafka', () => {
  it('names the broker entry that is not host:port', () => {
    expect(() => createKafka({ brokers: ['kafka-1:9092', 'bogus'] })).toThrow(
      /Invalid option brokers: expected every entry a "host:port".*received "bogus"/,
    );
    expect(() => createKafka({ brokers: [] })).toThrow(/Invalid option brokers: expected a non-empty list/);
    expect(() => createKafka({ brokers: ['kafka-1:9092', 'kafka-2:9092'] })).not.toThrow();
  });
});

describe('kafkaLogLevel', () => {
  it('turns connection trouble and errors kafkajs retries into warnings, keeps the rest', () => {
    const ERROR = 1;
    const WARN = 2;
    const INFO = 4;
    expect(kafkaLogLevel(ERROR, 'Connection', { broker: '127.0.0.1:9092' })).toBe('warn');
    expect(kafkaLogLevel(ERROR, 'BrokerPool', { retryCount: 0, retryTime: 300 })).toBe('warn');
    expect(kafkaLogLevel(ERROR, 'Consumer', { retryCount: 2 })).toBe('warn');
    expect(kafkaLogLevel(ERROR, 'Producer', { error: 'The request is too large' })).toBe('error');
    expect(kafkaLogLevel(WARN, 'Consumer', {})).toBe('warn');
    expect(kafkaLogLevel(INFO, 'Consumer', {})).toBe('debug');
  });
});
