/**
 * `pnpm bench tracing`: what Onceflow's tracing costs per message when no OpenTelemetry SDK is
 * registered (the API installed, as in this workspace, but only its no-op tracer). Times, in
 * the same run, a handler called directly (the baseline) and the same handler through
 * withProcessSpan, plus activeTraceHeaders at enqueue and a publish span per batch of 100.
 * A consumer transaction takes milliseconds; the added cost is shown in nanoseconds per message.
 */
import { activeTraceHeaders, startPublishSpan, withProcessSpan } from '@onceflow/core';

const HEADERS = {
  'onceflow-id': '0193b7e2-0000-7000-8000-000000000000',
  traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
};
const ATTRIBUTES = { 'messaging.consumer.group.name': 'bench', 'messaging.destination.partition.id': '0' };

async function timeNs(iterations: number, work: () => Promise<unknown> | unknown): Promise<number> {
  for (let i = 0; i < 10_000; i++) await work(); // warm-up
  const started = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) await work();
  return Number(process.hrtime.bigint() - started) / iterations;
}

/** Prints one JSON line: ns per operation with and without tracing, and their difference. */
export async function main(args: string[]): Promise<void> {
  const iterations = Number(args[0] ?? 200_000);
  const handler = async () => undefined;
  const rounds: Array<{ direct: number; traced: number }> = [];
  for (let r = 0; r < 3; r++) {
    rounds.push({
      direct: await timeNs(iterations, handler),
      traced: await timeNs(iterations, () => withProcessSpan('bench.topic', HEADERS, ATTRIBUTES, handler)),
    });
  }
  const best = (pick: (r: { direct: number; traced: number }) => number) => Math.min(...rounds.map(pick));
  const inject = await timeNs(iterations, () => activeTraceHeaders());
  const batch = Array.from({ length: 100 }, () => HEADERS);
  const publishPerMessage = (await timeNs(iterations / 100, () => startPublishSpan(['bench.topic'], batch).end())) / 100;
  const direct = best((r) => r.direct);
  const traced = best((r) => r.traced);
  process.stdout.write(
    `${JSON.stringify({
      bench: 'tracing',
      sdk: 'none registered',
      iterations,
      handler_direct_ns: Math.round(direct),
      handler_traced_ns: Math.round(traced),
      added_per_message_ns: Math.round(traced - direct),
      inject_at_enqueue_ns: Math.round(inject),
      publish_span_per_message_ns: Math.round(publishPerMessage),
    })}\n`,
  );
}
