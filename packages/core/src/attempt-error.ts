/**
 * One failed attempt in the error history of a parked message: a consumer's dead letter or a
 * relay's dead outbox message. Histories are oldest first.
 */
export interface AttemptError {
  /** The attempt that failed, from 1; 0 for a consumer's message parked before any attempt (refused as it arrived). */
  readonly attempt: number;
  /** When it failed, as an ISO 8601 time. */
  readonly at: string;
  /** What went wrong: the error's message. */
  readonly message: string;
  /**
   * The error's name (`FatalHandlerError`, `TypeError`). Consumers record it; the relay's
   * outbox history does not, so its entries have none.
   */
  readonly name?: string;
  /** A stable code when the error had one: an Onceflow code, a Kafka error type, a PostgreSQL SQLSTATE. */
  readonly code?: string;
  /**
   * The same text as `message`, under the name a relay's dead outbox messages used before
   * consumers and relays shared this shape; set on those entries only.
   * @deprecated Read `message`; `error` goes in the next major version.
   */
  readonly error?: string;
}
