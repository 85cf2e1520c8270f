export { ClusterAdmin } from './cluster-admin.ts';
export type { KafkaConnectionOptions } from './config.ts';
export { createKafka, defaultBrokers, kafkaLogLevel, retryOptions } from './config.ts';
export { kafkaErrorType, publishErrorScope, toPublishError } from './errors.ts';
export type {
  KafkaPublisherOptions,
  KafkaSubscriberOptions,
  ResolvedKafkaPublisherOptions,
  ResolvedKafkaSubscriberOptions,
} from './options.ts';
export { resolveKafkaPublisherOptions, resolveKafkaSubscriberOptions } from './options.ts';
export { KafkaPublisher } from './publisher.ts';
export { KafkaSubscriber } from './subscriber.ts';
export type { ThreadedKafkaPublisherOptions } from './threaded-publisher.ts';
export { ThreadedKafkaPublisher } from './threaded-publisher.ts';
