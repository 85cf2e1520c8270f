import type { ConnectionOptions } from 'node:tls';
import type { Logger } from '@onceflow/core';
import { assertPeerVersion, intOption, OptionError, silentLogger } from '@onceflow/core';
import type { KafkaConfig, LogEntry, RetryOptions, SASLOptions } from 'kafkajs';
import { Kafka, logLevel } from 'kafkajs';

/** How to reach Kafka. Credentials come from the caller or the environment, never from logs. */
export interface KafkaConnectionOptions {
  /** `host:port` list. @defaultValue KAFKA_BROKERS split on commas, else ["127.0.0.1:9092"] */
  brokers?: readonly string[];
  /** Client id reported to the brokers. @defaultValue ONCEFLOW_SCHEMA, else "onceflow" */
  clientId?: string;
  /** TLS: `true` or Node TLS options, passed to kafkajs as they are. */
  ssl?: boolean | ConnectionOptions;
  /** SASL settings, passed to kafkajs as they are. */
  sasl?: SASLOptions;
  /** Connection timeout. @defaultValue 3000 */
  connectionTimeoutMs?: number;
  /** Request timeout. @defaultValue 30000 */
  requestTimeoutMs?: number;
  /** Retries of kafkajs's own request loop, set explicitly so NODE_ENV never changes them. @defaultValue 5 */
  retries?: number;
  /** Where kafkajs's own log lines go. @defaultValue a silent logger */
  logger?: Logger;
}

/** The default broker list: KAFKA_BROKERS, else the local broker. */
export function defaultBrokers(): string[] {
  const fromEnv = process.env.KAFKA_BROKERS;
  if (fromEnv !== undefined && fromEnv.trim() !== '')
    return fromEnv
      .split(',')
      .map((b) => b.trim())
      .filter((b) => b !== '');
  return ['127.0.0.1:9092'];
}

/** Explicit kafkajs retry settings (kafkajs picks other defaults under NODE_ENV=test). */
export function retryOptions(retries: number): RetryOptions {
  return { retries, initialRetryTime: 100, maxRetryTime: 2_000, factor: 0.2, multiplier: 2 };
}

/** Builds a kafkajs client from {@link KafkaConnectionOptions}. */
export function createKafka(options: KafkaConnectionOptions = {}): Kafka {
  assertPeerVersion('kafkajs');
  const brokers = options.brokers ?? defaultBrokers();
  if (brokers.length === 0) throw new OptionError('brokers', brokers, 'a non-empty list of "host:port" strings (KAFKA_BROKERS)');
  const bad = brokers.find((b) => typeof b !== 'string' || !/^[^\s:]+:\d+$/.test(b));
  if (bad !== undefined) {
    throw new OptionError('brokers', bad, 'every entry a "host:port" string, as in KAFKA_BROKERS=kafka-1:9092,kafka-2:9092');
  }
  const logger = options.logger ?? silentLogger;
  const config: KafkaConfig = {
    clientId: options.clientId ?? 'onceflow',
    brokers: [...brokers],
    connectionTimeout: intOption('connectionTimeoutMs', options.connectionTimeoutMs, 3_000, 100),
    requestTimeout: intOption('requestTimeoutMs', options.requestTimeoutMs, 30_000, 100),
    retry: retryOptions(intOption('retries', options.retries, 5, 0, 1_000)),
    logLevel: logLevel.WARN,
    logCreator: () => (entry: LogEntry) => {
      const { message, ...rest } = entry.log;
      const fields = { namespace: entry.namespace, ...rest };
      logger[kafkaLogLevel(entry.level, entry.namespace, rest)](fields, message);
    },
  };
  if (options.ssl !== undefined) config.ssl = options.ssl;
  if (options.sasl !== undefined) config.sasl = options.sasl;
  return new Kafka(config);
}

/**
 * The level a kafkajs log line gets in Onceflow's logger. kafkajs logs a broker it cannot reach
 * yet (one still starting, restarting or moving leadership) at ERROR on every try, although it
 * retries and reports at the end whether it gave up; the caller (relay, consumer) then logs
 * that failure itself. So connection troubles and errors kafkajs is retrying are warnings.
 */
export function kafkaLogLevel(level: number, namespace: string, log: Readonly<Record<string, unknown>>): 'error' | 'warn' | 'debug' {
  if (level <= logLevel.ERROR) {
    const retrying = 'retryCount' in log || 'retryTime' in log;
    return retrying || namespace === 'Connection' || namespace === 'BrokerPool' ? 'warn' : 'error';
  }
  return level === logLevel.WARN ? 'warn' : 'debug';
}
