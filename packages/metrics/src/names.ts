/**
 * Every metric Onceflow registers, by name. Prometheus conventions: the `onceflow_` prefix,
 * base units in the name, `_total` for counters, `_seconds` for durations. Labels are bounded:
 * topic, consumer, partition and kind, never a key, an id or error text.
 */
export const MetricNames = {
  relayPublished: 'onceflow_relay_published_messages_total',
  relayPublishFailures: 'onceflow_relay_publish_failures_total',
  relayDead: 'onceflow_relay_dead_messages_total',
  relayBatchDuration: 'onceflow_relay_publish_batch_duration_seconds',
  relayCommitToAck: 'onceflow_relay_commit_to_ack_seconds',
  relayShardsHeld: 'onceflow_relay_shards_held',
  relayActiveLanes: 'onceflow_relay_active_lanes',
  relayErrors: 'onceflow_relay_errors_total',
  outboxBacklog: 'onceflow_outbox_backlog_messages',
  outboxOldestPendingAge: 'onceflow_outbox_oldest_pending_age_seconds',
  outboxDead: 'onceflow_outbox_dead_messages',
  outboxStatusFailures: 'onceflow_outbox_status_query_failures_total',
  consumerHandled: 'onceflow_consumer_handled_messages_total',
  consumerDuplicates: 'onceflow_consumer_duplicate_messages_total',
  consumerRetries: 'onceflow_consumer_retries_total',
  consumerDeadLetters: 'onceflow_consumer_dead_letters_total',
  consumerHandlerDuration: 'onceflow_consumer_handler_duration_seconds',
  consumerCommitLag: 'onceflow_consumer_commit_lag_messages',
  consumerErrors: 'onceflow_consumer_errors_total',
} as const;

/** One of {@link MetricNames}. */
export type MetricName = (typeof MetricNames)[keyof typeof MetricNames];
