import type { Admin, Kafka } from 'kafkajs';
import { toPublishError } from './errors.ts';

/**
 * Asks the cluster for its metadata through an admin client of its own, for readiness checks:
 * resolves when a broker answers. Concurrent checks share one request; a failed one drops the
 * admin client so the next check connects afresh.
 */
export class BrokerProbe {
  readonly #kafka: Kafka;
  #admin: Admin | undefined;
  #inFlight: Promise<void> | undefined;

  constructor(kafka: Kafka) {
    this.#kafka = kafka;
  }

  check(): Promise<void> {
    this.#inFlight ??= this.#probe().finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }

  async close(): Promise<void> {
    const admin = this.#admin;
    this.#admin = undefined;
    await admin?.disconnect().catch(() => undefined);
  }

  async #probe(): Promise<void> {
    // No retries of its own: the caller asks again at its own pace (a load balancer's probe).
    this.#admin ??= this.#kafka.admin({ retry: { retries: 0 } });
    try {
      await this.#admin.connect();
      await this.#admin.describeCluster();
    } catch (error) {
      await this.close();
      throw toPublishError(error);
    }
  }
}
