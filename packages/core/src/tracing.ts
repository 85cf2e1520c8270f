import { createRequire } from 'node:module';

/**
 * OpenTelemetry across the hop, through `@opentelemetry/api` when the application has it (an
 * optional peer dependency). Without it, or without an SDK registered, every function here
 * costs a check and a plain call. The API is loaded on first use, synchronously, so that the
 * packages stay loadable through `require()` (no top-level await), and it is described below by
 * the few members used, so that Onceflow's declarations never name OpenTelemetry's types.
 */

type Context = object;

interface SpanContext {
  readonly traceId: string;
  readonly spanId: string;
}

interface Span {
  setAttribute(key: string, value: string | number | boolean): unknown;
  addEvent(name: string, attributes?: Record<string, string | number | boolean>): unknown;
  recordException(exception: unknown): unknown;
  setStatus(status: { code: number; message?: string }): unknown;
  isRecording(): boolean;
  end(): void;
}

interface Tracer {
  startSpan(
    name: string,
    options: { kind: number; attributes?: Record<string, string | number | boolean>; links?: Array<{ context: SpanContext }> },
    context?: Context,
  ): Span;
}

interface OtelApi {
  context: { active(): Context; with<T>(context: Context, fn: () => T): T };
  propagation: {
    inject(context: Context, carrier: Record<string, string>): void;
    extract(context: Context, carrier: Record<string, string>): Context;
  };
  trace: {
    getTracer(name: string, version?: string): Tracer;
    getSpanContext(context: Context): SpanContext | undefined;
    setSpan(context: Context, span: Span): Context;
  };
  ROOT_CONTEXT: Context;
  SpanKind: { PRODUCER: number; CONSUMER: number };
  SpanStatusCode: { ERROR: number };
}

let api: OtelApi | null | undefined;

function otel(): OtelApi | null {
  if (api === undefined) {
    try {
      api = createRequire(import.meta.url)('@opentelemetry/api') as OtelApi;
    } catch {
      api = null;
    }
  }
  return api;
}

function tracer(a: OtelApi): Tracer {
  return a.trace.getTracer('onceflow');
}

/**
 * The active context's W3C `traceparent` (and `tracestate`), or undefined when there is none
 * (no API, no SDK, no active span). The producer reads it once per `enqueue` and stores it with
 * each message that has no `traceparent` of its own, so the trace active then continues in the
 * relay's publish and around the consumer's handler.
 */
export function activeTraceHeaders(): Readonly<Record<string, string>> | undefined {
  const a = otel();
  if (a === null) return undefined;
  const carrier: Record<string, string> = {};
  a.propagation.inject(a.context.active(), carrier);
  return carrier.traceparent === undefined ? undefined : carrier;
}

/** Attributes of a span, named after OpenTelemetry's messaging semantic conventions. */
export type SpanAttributes = Record<string, string | number | boolean>;

/**
 * Runs `work` inside a CONSUMER span `process <topic>`, child of the context carried by
 * `headers`; the span ends when `work` settles and records its error. `work` sees the span as
 * the active one, so spans its handler starts are children of it.
 */
export async function withProcessSpan<T>(
  topic: string,
  headers: Readonly<Record<string, string>>,
  attributes: SpanAttributes,
  work: () => Promise<T>,
): Promise<T> {
  const a = otel();
  if (a === null) return work();
  const parent = a.propagation.extract(a.ROOT_CONTEXT, { ...headers });
  const span = tracer(a).startSpan(
    `process ${topic}`,
    { kind: a.SpanKind.CONSUMER, attributes: { ...messaging(topic, 'process'), ...attributes } },
    parent,
  );
  return runHandlerSpan(a, span, parent, work);
}

/**
 * Runs `work` (a batch handler) inside one CONSUMER span `process <topic>` linked to each
 * message's producer context: a batch has many parents, so they are links, as the messaging
 * conventions say for batch processing.
 */
export async function withBatchProcessSpan<T>(
  topic: string,
  headers: ReadonlyArray<Readonly<Record<string, string>>>,
  attributes: SpanAttributes,
  work: () => Promise<T>,
): Promise<T> {
  const a = otel();
  if (a === null) return work();
  const span = tracer(a).startSpan(
    `process ${topic}`,
    {
      kind: a.SpanKind.CONSUMER,
      attributes: { ...messaging(topic, 'process'), ...attributes, 'messaging.batch.message_count': headers.length },
      links: linksOf(a, headers),
    },
    a.context.active(),
  );
  return runHandlerSpan(a, span, a.context.active(), work);
}

/** Runs `work` with `span` active under `parent`; marks the outcome, records a failure, ends it. */
async function runHandlerSpan<T>(a: OtelApi, span: Span, parent: Context, work: () => Promise<T>): Promise<T> {
  try {
    const result = await a.context.with(a.trace.setSpan(parent, span), work);
    span.setAttribute('onceflow.inbox.outcome', 'handled');
    return result;
  } catch (error) {
    failed(a, span, error);
    throw error;
  } finally {
    span.end();
  }
}

function failed(a: OtelApi, span: Span, error: unknown): void {
  span.recordException(error);
  span.setStatus({ code: a.SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
}

/** Links to the producer contexts carried by `headers` (messages without one are skipped). */
function linksOf(a: OtelApi, headers: ReadonlyArray<Readonly<Record<string, string>>>): Array<{ context: SpanContext }> {
  const links: Array<{ context: SpanContext }> = [];
  for (const h of headers) {
    if (h.traceparent === undefined) continue;
    const linked = a.trace.getSpanContext(a.propagation.extract(a.ROOT_CONTEXT, { ...h }));
    if (linked !== undefined) links.push({ context: linked });
  }
  return links;
}

/**
 * Records a finished CONSUMER span `process <topic>` for a message that did not run its handler,
 * child of its producer's context: `outcome` says why (`duplicate`, `dead_letter`), with an event
 * of that name and any `event` attributes.
 */
export function recordProcessOutcome(
  topic: string,
  headers: Readonly<Record<string, string>>,
  attributes: SpanAttributes,
  outcome: 'duplicate' | 'dead_letter',
  event: SpanAttributes = {},
): void {
  const a = otel();
  if (a === null) return;
  const parent = a.propagation.extract(a.ROOT_CONTEXT, { ...headers });
  const span = tracer(a).startSpan(
    `process ${topic}`,
    { kind: a.SpanKind.CONSUMER, attributes: { ...messaging(topic, 'process'), ...attributes, 'onceflow.inbox.outcome': outcome } },
    parent,
  );
  span.addEvent(`onceflow.${outcome}`, event);
  if (outcome === 'dead_letter') span.setStatus({ code: a.SpanStatusCode.ERROR, message: 'parked as a dead letter' });
  span.end();
}

/** A PRODUCER span in progress; `end` closes it, with the error when the publish failed. */
export interface PublishSpan {
  end(error?: unknown): void;
}

const NO_SPAN: PublishSpan = { end: () => undefined };

/**
 * Starts a PRODUCER span `send <topic>` (or `send` for several topics) for one batch, linked to
 * each message's producer context (the trace that was active at `enqueue`).
 */
export function startPublishSpan(topics: readonly string[], headers: ReadonlyArray<Readonly<Record<string, string>>>): PublishSpan {
  const a = otel();
  if (a === null) return NO_SPAN;
  const links = linksOf(a, headers);
  const single = topics.length === 1 ? topics[0] : undefined;
  const span = tracer(a).startSpan(
    single === undefined ? 'send' : `send ${single}`,
    {
      kind: a.SpanKind.PRODUCER,
      attributes: { ...messaging(single, 'send'), 'messaging.batch.message_count': headers.length },
      links,
    },
    a.context.active(),
  );
  return {
    end(error?: unknown) {
      if (error !== undefined) failed(a, span, error);
      span.end();
    },
  };
}

function messaging(topic: string | undefined, operation: 'send' | 'process'): SpanAttributes {
  return {
    'messaging.system': 'kafka',
    'messaging.operation.type': operation,
    'messaging.operation.name': operation,
    ...(topic === undefined ? {} : { 'messaging.destination.name': topic }),
  };
}
