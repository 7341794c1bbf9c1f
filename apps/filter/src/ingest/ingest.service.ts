import { Injectable } from '@nestjs/common';
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { DataRecord, validateRecord } from '@dataflow/contracts';
import { DataflowMetrics, Traced } from '@dataflow/observability';
import { FrameContext, type FrameOutcome } from '../pipeline/frame-context';
import { FrameRefusals } from './frame-refusals';
import { RecordPipeline } from '../pipeline/record-pipeline.service';
import type { IngestConnection } from './ingest-connection';
import { IngestRefusals } from './ingest-refusals.service';

/** Validates each record of a frame; refuses the invalid ones (one error frame), passes the rest on. */
@Injectable()
export class IngestService {
  constructor(
    private readonly refusals: IngestRefusals,
    private readonly pipeline: RecordPipeline,
    private readonly metrics: DataflowMetrics,
  ) {}

  /**
   * One frame's records, taken at once; resolves when they are settled (acknowledged, refused or
   * failed). Called in the trace context the frame carried (see IngestWsAdapter), so the frame's
   * span is a child of the sender's.
   */
  @Traced('records receive', { kind: SpanKind.CONSUMER })
  async receive(connection: IngestConnection, items: readonly unknown[]): Promise<void> {
    const span = trace.getActiveSpan();
    span?.setAttribute('dataflow.frame.records', items.length);
    const outcome = await new Promise<FrameOutcome>((settled) => this.take(connection, items, settled));
    if (outcome !== 'acked') span?.setStatus({ code: SpanStatusCode.ERROR, message: outcome });
  }

  private take(
    connection: IngestConnection,
    items: readonly unknown[],
    settled: (outcome: FrameOutcome) => void,
  ): void {
    const receivedAt = performance.now();
    connection.frameStarted();
    let sources = 0;
    const frame = new FrameContext(context.active(), receivedAt, (outcome, seconds) => {
      connection.frameSettled(sources);
      this.metrics.frameHandled(outcome, seconds);
      settled(outcome);
    });
    // Nothing of a frame refused over a bound is taken; the sender backs off and resends it.
    const overBound = (message: string): void => {
      frame.hold();
      frame.settle('refused');
      this.refusals.refuse(connection, { code: 'RATE_LIMITED', message });
    };
    if (!connection.admits(items.length)) {
      overBound('more than INGEST_MAX_PENDING_RECORDS records wait for their hand-off; wait for acks and resend');
      return;
    }
    if (!connection.allows(items.length)) {
      overBound('more records than INGEST_MAX_RECORDS_PER_SECOND allows; slow down and resend');
      return;
    }
    const valid: DataRecord[] = [];
    const refused = new FrameRefusals();
    for (const item of items) {
      const result = validateRecord(item);
      if (result.ok) valid.push(result.record);
      else refused.add(result);
    }
    const distinct = distinctSources(valid);
    if (!connection.admits(valid.length, distinct)) {
      // Many new sources at once: their state would pile up faster than hand-offs finish.
      overBound(
        'the records and sources waiting for their hand-off are over INGEST_MAX_PENDING_RECORDS; wait for acks and resend',
      );
      return;
    }
    this.refusals.refuseRecords(connection, refused);
    this.metrics.recordsProcessed('ingest', 'accepted', valid.length);
    this.metrics.recordsProcessed('ingest', 'rejected', items.length - valid.length);
    if (valid.length > 0) {
      sources = distinct;
      connection.sourcesTaken(sources);
      connection.taken(valid.length);
      this.pipeline.accept(connection, valid, frame);
    } else {
      frame.hold();
      frame.settle('refused');
    }
  }
}

function distinctSources(records: readonly DataRecord[]): number {
  if (records.length < 2) return records.length;
  const sources = new Set<string>();
  for (const record of records) sources.add(record.source);
  return sources.size;
}
