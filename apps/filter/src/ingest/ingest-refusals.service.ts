import { Inject, Injectable, Logger } from '@nestjs/common';
import { INGEST_ERROR_CODES, WS_CLOSE_POLICY_VIOLATION, type ErrorPayload } from '@dataflow/contracts';
import { DataflowMetrics, LogSampler } from '@dataflow/observability';
import type { FrameRefusals } from './frame-refusals';
import type { IngestConnection } from './ingest-connection';
import { INGEST_OPTIONS, type IngestOptions } from './ingest.options';

/** Reasons a connection is closed for, beyond the contract's error codes (all in `dataflow_records_rejected_total`). */
export const CLOSE_REASONS = [
  'BINARY_FRAME',
  'FRAME_TOO_LARGE',
  'FRAME_TOO_DEEP',
  'SLOW_READER',
  'RATE_LIMIT_IGNORED',
  'IDLE_TIMEOUT',
];
export const CONNECTION_REFUSAL_REASONS = ['unauthorized', 'limit', 'rate', 'penalty'] as const;
export type ConnectionRefusalReason = (typeof CONNECTION_REFUSAL_REASONS)[number];

/**
 * Every refusal at the front door goes through here: the sender gets the contract's error frame
 * (one per refused frame), `dataflow_records_rejected_total{reason}` counts every refused record or
 * frame, and a log line says why, without the raw payload (which may be hostile, huge or private).
 * Log lines are sampled (INGEST_REFUSAL_LOGS_PER_SECOND): a hostile client must not be able to fill
 * the disk through the log; what is left out is counted in `dataflow_log_lines_suppressed_total`.
 */
@Injectable()
export class IngestRefusals {
  private readonly logger = new Logger('ingest');
  private readonly sampler: LogSampler;

  constructor(
    private readonly metrics: DataflowMetrics,
    @Inject(INGEST_OPTIONS) options: IngestOptions,
  ) {
    metrics.declareRejections([...INGEST_ERROR_CODES, ...CLOSE_REASONS]);
    metrics.declareConnectionRefusals('ingest', CONNECTION_REFUSAL_REASONS);
    metrics.declareConnectionRefusals('tail', ['limit']);
    metrics.logLinesSuppressed('refusal', 0);
    this.sampler = new LogSampler(options.refusalLogsPerSecond);
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
    this.log(connection, payload.code, `${payload.message}${more}`, payload.source, payload.seq);
    connection.error(payload);
  }

  /** Counts and logs a refusal that is answered by closing the connection instead. */
  count(connection: IngestConnection, reason: string, message: string, source?: string, seq?: number): void {
    this.metrics.recordRejected(reason);
    this.log(connection, reason, message, source, seq);
  }

  /** A connection refused before any frame (HTTP 401 or 503 on /ingest, 503 on /tail). */
  connectionRefused(
    endpoint: 'ingest' | 'tail',
    reason: ConnectionRefusalReason,
    remote: string,
    message: string,
  ): void {
    this.metrics.connectionRefused(endpoint, reason);
    if (this.sample()) this.logger.warn(`refused ${endpoint} connection from ${remote}: ${message}`);
  }

  private log(connection: IngestConnection, reason: string, message: string, source?: string, seq?: number): void {
    if (!this.sample()) return;
    const which = source !== undefined ? ` (${source}${seq !== undefined ? `#${seq}` : ''})` : '';
    this.logger.warn(`refused from connection ${connection.id} ${connection.remote}: ${reason}${which}: ${message}`);
  }

  private sample(): boolean {
    const logged = this.sampler.take(performance.now(), (suppressed) =>
      this.logger.warn(
        `${suppressed} more refusals in the last second were not logged (INGEST_REFUSAL_LOGS_PER_SECOND); ` +
          'dataflow_records_rejected_total counts them all',
      ),
    );
    if (!logged) this.metrics.logLinesSuppressed('refusal', 1);
    return logged;
  }
}
