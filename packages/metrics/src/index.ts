export type { MetricName } from './names.ts';
export { MetricNames } from './names.ts';
export type { ObserveOutboxOptions, OnceflowMetricsOptions } from './onceflow-metrics.ts';
export { OnceflowMetrics } from './onceflow-metrics.ts';
export type { RelayMetricsSourceOptions } from './relay-metrics-source.ts';
export { relayMetricsSource } from './relay-metrics-source.ts';
