/**
 * Where records came from, as the pipeline sees it: what it acknowledges them to once every sink
 * of their route holds them, or fails so the sender resends. The pipeline declares this port and the
 * ingest side implements it (IngestConnection), so the pipeline never depends on its transport.
 */
export interface RecordSender {
  /** Whether acknowledgements can still reach the sender. */
  readonly open: boolean;
  /** Every sink of their route holds these records of `source`. */
  ack(source: string, seqs: readonly number[]): void;
  /** A hand-off failed: the sender must resend everything unacknowledged, in order. */
  fail(reason: string): void;
}
