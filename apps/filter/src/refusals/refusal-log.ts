import { Inject, Injectable, Logger } from '@nestjs/common';
import { DataflowMetrics, LogSampler } from '@dataflow/observability';

export const CONNECTION_REFUSAL_REASONS = ['unauthorized', 'limit', 'rate', 'penalty'] as const;
export type ConnectionRefusalReason = (typeof CONNECTION_REFUSAL_REASONS)[number];

/** Refusal log lines per second, at most (INGEST_REFUSAL_LOGS_PER_SECOND). */
export interface RefusalLogOptions {
  readonly linesPerSecond: number;
}

export const REFUSAL_LOG_OPTIONS = Symbol('REFUSAL_LOG_OPTIONS');

/**
 * The one log of every refusal the filter makes (frames and records at `/ingest`, connections to
 * `/ingest` and `/tail`), sampled as a whole: a hostile client must not be able to fill the disk
 * through the log, whichever door it knocks at. What is left out is counted in
 * `dataflow_log_lines_suppressed_total{category="refusal"}`; every refusal itself is counted by its
 * own metric.
 */
@Injectable()
export class RefusalLog {
  private readonly logger = new Logger('ingest');
  private readonly sampler: LogSampler;

  constructor(
    private readonly metrics: DataflowMetrics,
    @Inject(REFUSAL_LOG_OPTIONS) options: RefusalLogOptions,
  ) {
    metrics.declareConnectionRefusals('ingest', CONNECTION_REFUSAL_REASONS);
    metrics.declareConnectionRefusals('tail', ['limit']);
    metrics.logLinesSuppressed('refusal', 0);
    this.sampler = new LogSampler(options.linesPerSecond);
  }

  /** Logs `line` unless this second's allowance is spent. */
  warn(line: string): void {
    if (this.sample()) this.logger.warn(line);
  }

  /** A connection refused before any frame (HTTP 401 or 503 on /ingest, 503 on /tail). */
  connectionRefused(
    endpoint: 'ingest' | 'tail',
    reason: ConnectionRefusalReason,
    remote: string,
    message: string,
  ): void {
    this.metrics.connectionRefused(endpoint, reason);
    this.warn(`refused ${endpoint} connection from ${remote}: ${message}`);
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
