/** The broker the queue sink publishes to (RABBITMQ_URL, FILTER_PUBLISH_TIMEOUT_MS). */
export interface QueueSinkOptions {
  readonly url: string;
  /** A publish the broker has not confirmed within this time fails. */
  readonly publishTimeoutMs: number;
}

export const QUEUE_SINK_OPTIONS = Symbol('QUEUE_SINK_OPTIONS');
