// Package smoke test, CommonJS: every package loads through require() and exports its API.
const assert = require('node:assert/strict');

const expected = {
  '@onceflow/core': ['OnceflowError', 'migrate', 'tablesFor', 'assertPeerVersion'],
  '@onceflow/migrations': ['migrations'],
  '@onceflow/producer': ['OutboxWriter', 'migrate'],
  '@onceflow/relay': ['Relay', 'runRelayProcess', 'migrate', 'onceflowKnexfile', 'startRelayHttpServer'],
  '@onceflow/consumer': ['InboxConsumer', 'DeadLetters', 'migrate'],
  '@onceflow/kafka': ['createKafka', 'KafkaPublisher', 'KafkaSubscriber', 'ThreadedKafkaPublisher'],
  '@onceflow/testing': ['checkIdempotency'],
  '@onceflow/metrics': ['OnceflowMetrics', 'MetricNames', 'relayMetricsSource'],
};
for (const [name, exports] of Object.entries(expected)) {
  const loaded = require(name);
  for (const e of exports) assert.ok(loaded[e] !== undefined, `${name} exports ${e}`);
}
const { OnceflowError } = require('@onceflow/core');
const { OutboxWriter } = require('@onceflow/producer');
assert.throws(
  () => new OutboxWriter({ schema: 'Not-Valid' }),
  (error) => error instanceof OnceflowError && /schema/.test(error.message),
);
console.log(`cjs: ${Object.keys(expected).length} packages required on Node ${process.version}`);
