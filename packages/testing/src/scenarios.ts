import type { ConsumedMessage, InboxOutcome, MessageHandler } from '@onceflow/consumer';
import { Inbox } from '@onceflow/consumer';
import type { Knex } from 'knex';
import { redeliveryOf } from './make-message.ts';
import type { ResolvedCheckIdempotencyOptions } from './options.ts';

/** The handler's transaction is rolled back on purpose: a crash before the DB commit. */
class SimulatedCrash extends Error {
  constructor() {
    super('simulated crash before the database commit');
    this.name = 'SimulatedCrash';
  }
}

/** What a scenario's deliveries did. */
export interface Deliveries {
  outcomes: string[];
  handlerCalls: number;
  /** Set by the rollback scenario: the state right after the rolled-back attempt. */
  afterRollback?: unknown;
}

/**
 * A fresh inbox, as a freshly started consumer process has, recording under the kit's
 * consumer name.
 */
function newInbox(o: ResolvedCheckIdempotencyOptions<unknown>): Inbox {
  return new Inbox({ knex: o.knex, consumerName: o.consumerName, schema: o.schema, dedup: o.dedup });
}

/** The next offset after `message`'s, where a re-published copy lands. */
function nextOffset(message: ConsumedMessage<unknown>): string {
  return (BigInt(message.offset) + 1n).toString();
}

function counting(handler: MessageHandler<unknown>, d: Deliveries): MessageHandler<unknown> {
  return async (message, trx) => {
    d.handlerCalls++;
    await handler(message, trx);
  };
}

/** One delivery through the real inbox path. */
export async function deliverOnce(o: ResolvedCheckIdempotencyOptions<unknown>, d: Deliveries): Promise<InboxOutcome> {
  const outcome = await newInbox(o).handle(o.message, counting(o.handler, d));
  d.outcomes.push(outcome);
  return outcome;
}

/** Delivered, then a re-published copy (same headers, next offset) through the same inbox. */
export async function sequential(o: ResolvedCheckIdempotencyOptions<unknown>, d: Deliveries): Promise<void> {
  const inbox = newInbox(o);
  d.outcomes.push(await inbox.handle(o.message, counting(o.handler, d)));
  d.outcomes.push(await inbox.handle(redeliveryOf(o.message, nextOffset(o.message)), counting(o.handler, d)));
}

/** Delivered and committed; then a new inbox (the restarted consumer) gets the very same record. */
export async function crashBeforeOffsetCommit(o: ResolvedCheckIdempotencyOptions<unknown>, d: Deliveries): Promise<void> {
  await deliverOnce(o, d);
  d.outcomes.push(await newInbox(o).handle(redeliveryOf(o.message), counting(o.handler, d)));
}

/** The handler runs to its end, then its transaction rolls back; a new inbox gets the record again. */
export async function rollbackThenRedeliver(o: ResolvedCheckIdempotencyOptions<unknown>, d: Deliveries): Promise<void> {
  const handler = counting(o.handler, d);
  try {
    await newInbox(o).handle(o.message, async (message, trx) => {
      await handler(message, trx);
      throw new SimulatedCrash();
    });
    d.outcomes.push('duplicate (the message was recorded before; nothing was rolled back)');
  } catch (error) {
    if (!(error instanceof SimulatedCrash)) throw error;
    d.outcomes.push('rolled back');
  }
  d.afterRollback = await o.snapshot(o.knex);
  d.outcomes.push(await newInbox(o).handle(redeliveryOf(o.message), counting(o.handler, d)));
}

/**
 * Two copies at the same moment, through two inboxes (two consumer processes sharing the inbox
 * name). The first inserts its inbox row; while its transaction is open the second copy starts
 * and must block on that row in the unique index. Only once the second is seen waiting does
 * the first run the handler and commit; the second then finds the row and is skipped.
 */
export async function concurrent(o: ResolvedCheckIdempotencyOptions<unknown>, d: Deliveries): Promise<void> {
  const handler = counting(o.handler, d);
  const copy = redeliveryOf(o.message, nextOffset(o.message));
  let second: Promise<string> | undefined;
  let secondSettled = false;
  let waited = false;
  let timedOut = false;
  const first = newInbox(o).handle(o.message, async (message, trx) => {
    const pid = await backendPid(trx);
    second = newInbox(o)
      .handle(copy, handler)
      .finally(() => {
        secondSettled = true;
      });
    second.catch(() => undefined);
    waited = await waitUntilBlocked(o.knex, pid, () => secondSettled, o.waitTimeoutMs);
    timedOut = !waited && !secondSettled;
    await handler(message, trx);
  });
  // Both copies settle before anything is reported, so no delivery is left running.
  const [a] = await Promise.allSettled([first]);
  const [b] = second === undefined ? [undefined] : await Promise.allSettled([second]);
  if (a.status === 'rejected') throw a.reason;
  if (b?.status === 'rejected') throw b.reason;
  d.outcomes.push(a.value, `${b?.value ?? 'not delivered'} (${waited ? 'waited on the first copy' : 'did not wait on the first copy'})`);
  if (timedOut) {
    throw new Error(`The second copy neither waited on the first nor finished within waitTimeoutMs (${o.waitTimeoutMs} ms)`);
  }
}

async function backendPid(trx: Knex.Transaction): Promise<number> {
  const result = await trx.raw('select pg_backend_pid() as pid');
  return Number((result.rows as Array<{ pid: number }>)[0]?.pid);
}

/**
 * Polls (from another pool connection) until some session is blocked by `pid`, i.e. the second
 * copy waits on the first copy's uncommitted inbox row. Answers false when the second copy
 * finished without waiting (its dedup key differs) or the time ran out.
 */
async function waitUntilBlocked(knex: Knex, pid: number, settled: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const result = await knex.raw('select count(*)::int as n from pg_stat_activity where ?::int = any(pg_blocking_pids(pid))', [pid]);
    if ((result.rows as Array<{ n: number }>)[0]?.n) return true;
    if (settled()) return false;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return false;
}
