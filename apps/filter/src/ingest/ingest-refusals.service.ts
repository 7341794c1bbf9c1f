import { Injectable } from '@nestjs/common';
import { INGEST_ERROR_CODES, WS_CLOSE_POLICY_VIOLATION, type ErrorPayload } from '@dataflow/contracts';
import { DataflowMetrics } from '@dataflow/observability';
import { RefusalLog } from '../refusals/refusal-log';
import type { FrameRefusals } from './frame-refusals';
import type { IngestConnection } from './ingest-connection';

/** Reasons a connection is closed for, beyond the contract's error codes (all in `dataflow_records_rejected_total`). */
export const CLOSE_REASONS = [
  'BINARY_FRAME',
  'FRAME_TOO_LARGE',
  'FRAME_TOO_DEEP',
  'SLOW_READER',
  'RATE_LIMIT_IGNORED',
  'IDLE_TIMEOUT',
];

/**
 * Every refusal at the front door goes through here: the sender gets the contract's error frame
 * (one per refused frame), `dataflow_records_rejected_total{reason}` counts every refused record or
 * frame, and a log line says why, without the raw payload (which may be hostile, huge or private).
 * Log lines go to the filter's one sampled RefusalLog.
 */
@Injectable()
export class IngestRefusals {
  constructor(
    private readonly metrics: DataflowMetrics,
    private readonly log: RefusalLog,
  ) {
    metrics.declareRejections([...INGEST_ERROR_CODES, ...CLOSE_REASONS]);
  }

  /**
   * Refuses a whole frame with an error frame; the connection stays open, unless it got more
   * RATE_LIMITED answers in a second than its frame allowance: then it is closed with 1008.
   */
  refuse(connection: IngestConnection, payload: ErrorPayload): void {
    if (payload.code === 'RATE_LIMITED' && connection.ignoresRateLimit()) {
      this.count(
        connection,
        'RATE_LIMIT_IGNORED',
        `kept sending past RATE_LIMITED (closed ${WS_CLOSE_POLICY_VIOLATION})`,
      );
      connection.abort(WS_CLOSE_POLICY_VIOLATION, 'rate limit ignored');
      return;
    }
    this.count(connection, payload.code, payload.message, payload.source, payload.seq);
    connection.error(payload);
  }

  /** Refuses the invalid records of one frame with one error frame; the connection stays open. */
  refuseRecords(connection: IngestConnection, refusals: FrameRefusals): void {
    const payload = refusals.payload();
    if (!payload) return;
    for (const [code, count] of refusals.counts) this.metrics.recordRejected(code, count);
    const more = refusals.count > 1 ? ` (and ${refusals.count - 1} more records of the frame)` : '';
    this.logRefusal(connection, payload.code, `${payload.message}${more}`, payload.source, payload.seq);
    connection.error(payload);
  }

  /** Counts and logs a refusal that is answered by closing the connection instead. */
  count(connection: IngestConnection, reason: string, message: string, source?: string, seq?: number): void {
    this.metrics.recordRejected(reason);
    this.logRefusal(connection, reason, message, source, seq);
  }

  private logRefusal(
    connection: IngestConnection,
    reason: string,
    message: string,
    source?: string,
    seq?: number,
  ): void {
    const which = source !== undefined ? ` (${source}${seq !== undefined ? `#${seq}` : ''})` : '';
    this.log.warn(`refused from connection ${connection.id} ${connection.remote}: ${reason}${which}: ${message}`);
  }
}
