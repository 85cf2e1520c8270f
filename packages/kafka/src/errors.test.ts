import { KafkaJSConnectionError, KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { publishErrorScope, toPublishError } from './errors.ts';

function protocolError(type: string, retriable: boolean): KafkaJSProtocolError {
  return new KafkaJSProtocolError({ message: type, type, code: 0, retriable } as never);
}

describe('publish error classification', () => {
  it('blames the broker for connection failures and exhausted retries over them', () => {
    const refused = new KafkaJSConnectionError('Connection error: connect ECONNREFUSED');
    expect(publishErrorScope(refused)).toBe('broker');
    expect(publishErrorScope(new KafkaJSNumberOfRetriesExceeded(refused, { retryCount: 5, retryTime: 100 }))).toBe('broker');
    expect(publishErrorScope(protocolError('NOT_ENOUGH_REPLICAS', true))).toBe('broker');
  });

  it('blames the broker for a send that met a broker whose connection was just lost', () => {
    // kafkajs throws this as a plain Error while a broker reconnects (a Kafka restart).
    expect(publishErrorScope(new Error('Broker not connected'))).toBe('broker');
    expect(toPublishError(new Error('Broker not connected')).scope).toBe('broker');
  });

  it('blames the record for record faults and for errors raised before anything was sent', () => {
    expect(publishErrorScope(protocolError('MESSAGE_TOO_LARGE', false))).toBe('record');
    expect(publishErrorScope(new TypeError('The "string" argument must be of type string'))).toBe('record');
  });

  it('marks record faults the broker will always refuse as not retriable', () => {
    expect(toPublishError(protocolError('MESSAGE_TOO_LARGE', false)).retriable).toBe(false);
    expect(toPublishError(new KafkaJSConnectionError('closed')).retriable).toBe(true);
  });

  it('takes a missing cluster permission as broker-wide, so no message is charged or parked for it', () => {
    const clusterDenied = toPublishError(protocolError('CLUSTER_AUTHORIZATION_FAILED', false));
    expect(clusterDenied.scope).toBe('broker');
    expect(clusterDenied.retriable).toBe(true);
    // A topic the client may not write to is that topic's records' fault: parked at once.
    const topicDenied = toPublishError(protocolError('TOPIC_AUTHORIZATION_FAILED', false));
    expect(topicDenied.scope).toBe('record');
    expect(topicDenied.retriable).toBe(false);
  });
});
