/** The broker the queue sink publishes to (RABBITMQ_URL, FILTER_PUBLISH_TIMEOUT_MS, RECORD_PARTITIONS). */
export interface QueueSinkOptions {
  readonly url: string;
  /** A publish the broker has not confirmed within this time fails. */
  readonly publishTimeoutMs: number;
  /** Partitions per sink of the topology it declares. */
  readonly partitions: number;
}

export const QUEUE_SINK_OPTIONS = Symbol('QUEUE_SINK_OPTIONS');
