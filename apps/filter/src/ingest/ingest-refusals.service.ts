import { Injectable, Logger } from '@nestjs/common';
import { INGEST_ERROR_CODES, type ErrorPayload } from '@dataflow/contracts';
import { DataflowMetrics } from '@dataflow/observability';
import type { IngestConnection } from './ingest-connection';

/**
 * Every refusal at the front door goes through here: the sender gets the contract's error frame,
 * `dataflow_records_rejected_total{reason}` counts it, and one log line says why, without the raw
 * payload (which may be hostile, huge or private).
 */
@Injectable()
export class IngestRefusals {
  private readonly logger = new Logger('ingest');

  constructor(private readonly metrics: DataflowMetrics) {
    metrics.declareRejections([...INGEST_ERROR_CODES, 'BINARY_FRAME', 'FRAME_TOO_LARGE', 'IDLE_TIMEOUT']);
  }

  /** Refuses with an error frame; the connection stays open. */
  refuse(connection: IngestConnection, payload: ErrorPayload): void {
    this.count(connection, payload.code, payload.message, payload.source, payload.seq);
    connection.error(payload);
  }

  /** Counts and logs a refusal that is answered by closing the connection instead. */
  count(connection: IngestConnection, reason: string, message: string, source?: string, seq?: number): void {
    this.metrics.recordRejected(reason);
    const which = source !== undefined ? ` (${source}${seq !== undefined ? `#${seq}` : ''})` : '';
    this.logger.warn(`refused from connection ${connection.id} ${connection.remote}: ${reason}${which}: ${message}`);
  }
}
