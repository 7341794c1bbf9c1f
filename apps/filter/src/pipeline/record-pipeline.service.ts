import { BeforeApplicationShutdown, Inject, Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { DataRecord } from '@dataflow/contracts';
import { DataflowMetrics } from '@dataflow/observability';
import type { FilterConfig } from '../config/filter.config';
import type { IngestConnection } from '../ingest/ingest-connection';
import { RECORD_ROUTER } from '../routing/router.provider';
import type { RecordRouter } from '../routing/record-router';
import { FileSink } from '../sinks/file-sink.service';
import { QueueSink } from '../sinks/queue-sink.service';
import { SourcePart, SourcePipeline } from './source-pipeline';
import { splitBySource } from './split-by-source';

/**
 * Routes valid records to their sinks and acknowledges them to the sender once every sink holding
 * them has them durably. Per source, hand-offs are serial (see SourcePipeline); each sink skips
 * records at or below the highest `seq` it already has for the source (a resend), and such records
 * are acknowledged again. If a sink fails, the sender's connection is closed with 1013: nothing of
 * the failed batch is acknowledged and the sender resends from its oldest unacknowledged record.
 */
@Injectable()
export class RecordPipeline implements BeforeApplicationShutdown {
  private readonly logger = new Logger(RecordPipeline.name);
  private readonly pipelines = new Map<string, SourcePipeline>();
  private readonly maxBatch: number;
  private readonly shutdownTimeoutMs: number;
  private stopping = false;

  constructor(
    @Inject(ConfigService) config: ConfigService<FilterConfig, true>,
    @Inject(RECORD_ROUTER) private readonly router: RecordRouter,
    private readonly queue: QueueSink,
    private readonly file: FileSink,
    private readonly metrics: DataflowMetrics,
  ) {
    this.maxBatch = config.get('FILTER_MAX_BATCH', { infer: true });
    this.shutdownTimeoutMs = config.get('SHUTDOWN_TIMEOUT_SECONDS', { infer: true }) * 1000;
  }

  /** Takes the valid records of one frame (any sources, any order). */
  accept(connection: IngestConnection, records: readonly DataRecord[]): void {
    if (this.stopping) {
      connection.fail('filter shutting down');
      return;
    }
    for (const [source, part] of splitBySource(connection, records)) {
      let pipeline = this.pipelines.get(source);
      if (!pipeline) {
        pipeline = new SourcePipeline(source, (s, p) => this.handOff(s, p), this.maxBatch);
        this.pipelines.set(source, pipeline);
      }
      pipeline.enqueue(part);
    }
  }

  /** Stops intake and lets every queued hand-off finish, so their acks go out before sockets close. */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    const all = Promise.all([...this.pipelines.values()].map((p) => p.idle()));
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, this.shutdownTimeoutMs).unref());
    await Promise.race([all, timeout]);
  }

  get backlog(): number {
    let queued = 0;
    for (const pipeline of this.pipelines.values()) queued += pipeline.queued;
    return queued;
  }

  private async handOff(source: string, part: SourcePart): Promise<void> {
    const toQueue: DataRecord[] = [];
    const toFile: DataRecord[] = [];
    const queueFloor = this.queue.lastHandedOn(source);
    const fileFloor = this.file.lastHandedOn(source);
    let duplicates = 0;
    let dropped = 0;
    for (const record of part.records) {
      const sinks = this.router.route(record);
      if (sinks.length === 0) dropped++;
      for (const sink of sinks) {
        if (sink === 'queue') {
          if (record.seq > queueFloor) toQueue.push(record);
          else duplicates++;
        } else if (record.seq > fileFloor) toFile.push(record);
        else duplicates++;
      }
    }
    try {
      await Promise.all([this.queue.publish(source, toQueue), this.file.append(source, toFile)]);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      this.logger.warn(`hand-off of ${part.records.length} records of ${source} failed: ${reason}`);
      this.metrics.recordsProcessed('handoff', 'failed', part.records.length);
      part.connection.fail('sink unavailable');
      return;
    }
    this.metrics.recordsProcessed('route', 'queue', toQueue.length);
    this.metrics.recordsProcessed('route', 'file', toFile.length);
    this.metrics.recordsProcessed('route', 'duplicate', duplicates);
    this.metrics.recordsProcessed('route', 'dropped', dropped);
    part.connection.ack(source, part.ackSeqs);
  }
}
