/**
 * How long a lane waits before it reads again, after what its last read found. Notifications
 * or wake-ups end any of these waits early.
 */
export interface PollPacing {
  /** After a batch that found rows but did not fill up (a full batch is followed at once). */
  afterRows(): number;
  /** After a read that found nothing to send. */
  afterNothing(): number;
}

/**
 * The same wait whatever was found: PostgreSQL, where producers' notifications wake the lanes
 * and the poll only covers notifications lost.
 */
export function fixedPolling(intervalMs: number): PollPacing {
  return { afterRows: () => intervalMs, afterNothing: () => intervalMs };
}

/** The wait after a batch that found rows, under {@link AdaptivePolling}. */
export const BUSY_POLL_MS = 5;

/**
 * An adaptive poll, for MySQL and MariaDB, where nothing wakes a relay when another process
 * commits: a lane whose read found rows reads again after {@link BUSY_POLL_MS} (more are
 * likely on their way), and each read in a row that finds nothing doubles the wait, up to
 * `maxMs` (the relay's `pollIntervalMs`). A busy relay so sees new rows within milliseconds,
 * and an idle one costs about one query per lane per `maxMs`. One per lane: each lane's own
 * reads decide its pace.
 */
export class AdaptivePolling implements PollPacing {
  readonly #maxMs: number;
  readonly #busyMs: number;
  #idle = 0;

  constructor(maxMs: number) {
    this.#maxMs = maxMs;
    this.#busyMs = Math.min(BUSY_POLL_MS, maxMs);
  }

  afterRows(): number {
    this.#idle = 0;
    return this.#busyMs;
  }

  afterNothing(): number {
    this.#idle = Math.min(this.#idle + 1, 30);
    return Math.min(this.#maxMs, this.#busyMs * 2 ** this.#idle);
  }
}
