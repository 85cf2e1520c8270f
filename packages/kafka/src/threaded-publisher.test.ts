import { OptionError } from '@onceflow/core';
import { describe, expect, it } from 'vitest';
import { ThreadedKafkaPublisher } from './threaded-publisher.ts';

describe('ThreadedKafkaPublisher options', () => {
  it('names a function passed in sasl by its path and never shows its source', () => {
    const secret = 'hunter2-token-in-source';
    // The secret is in the function's source text, which a clone error would quote.
    const oauthBearerProvider = async () => ({ value: 'hunter2-token-in-source' });
    let error: unknown;
    try {
      new ThreadedKafkaPublisher({ connection: { brokers: ['127.0.0.1:9092'], sasl: { mechanism: 'oauthbearer', oauthBearerProvider } } });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(OptionError);
    expect(error).toMatchObject({ option: 'connection.sasl.oauthBearerProvider', value: 'a function' });
    expect(String((error as Error).message)).not.toContain(secret);
    expect(JSON.stringify(error)).not.toContain(secret);
    expect((error as Error).cause).toBeUndefined();
  });
});
