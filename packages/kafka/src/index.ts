export type { KafkaConnectionOptions } from './config.ts';
export { createKafka, defaultBrokers, kafkaLogLevel, retryOptions } from './config.ts';
export { kafkaErrorType, publishErrorScope, toPublishError } from './errors.ts';
export type { KafkaPublisherOptions } from './publisher.ts';
export { KafkaPublisher } from './publisher.ts';
export type { KafkaSubscriberOptions } from './subscriber.ts';
export { KafkaSubscriber } from './subscriber.ts';
export type { ThreadedKafkaPublisherOptions } from './threaded-publisher.ts';
export { ThreadedKafkaPublisher } from './threaded-publisher.ts';
