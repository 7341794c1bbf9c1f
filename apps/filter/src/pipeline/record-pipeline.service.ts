import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { SpanKind, trace } from '@opentelemetry/api';
import type { DataRecord } from '@dataflow/contracts';
import { DataflowMetrics, describeError, Traced } from '@dataflow/observability';
import type { RecordSender } from './record-sender';
import type { RouteDecision } from '../routing/record-router';
import { RulesService } from '../routing/rules.service';
import { FileLeg } from '../sinks/file-leg';
import { QueueSink } from '../sinks/queue-sink.service';
import { TailService } from '../tail/tail.service';
import { DeliveryLedger } from './delivery-ledger';
import { PIPELINE_OPTIONS, type PipelineOptions } from './pipeline.options';
import { SourceEviction } from './source-eviction';
import type { FrameContext } from './frame-context';
import { SourcePipeline, type SourcePart } from './source-pipeline';
import { splitBySource } from './split-by-source';

/**
 * Routes valid records to their sinks and acknowledges them to the sender once every sink of their
 * route holds them durably. Per source, hand-offs are serial (see SourcePipeline). Records at or
 * below the source's floor (see DeliveryLedger) are redelivered duplicates, acknowledged again;
 * above it, each sink gets only what it does not hold already, exactly per (source, seq), so a
 * resend after a hand-off that half failed writes nothing twice. Both legs of a hand-off settle
 * before anything is decided; only when every leg succeeded does the floor move and the ack go
 * out. If a leg failed, the sender's connection is closed with 1013: nothing of the batch is
 * acknowledged, the records keep their routes, and the sender resends from its oldest
 * unacknowledged record.
 */
@Injectable()
export class RecordPipeline implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(RecordPipeline.name);
  private readonly pipelines = new Map<string, SourcePipeline>();
  private readonly ledger: DeliveryLedger;
  private readonly eviction: SourceEviction;
  private readonly maxBatch: number;
  private readonly shutdownTimeoutMs: number;
  private stopping = false;

  constructor(
    @Inject(PIPELINE_OPTIONS) options: PipelineOptions,
    private readonly rules: RulesService,
    private readonly queue: QueueSink,
    private readonly file: FileLeg,
    private readonly metrics: DataflowMetrics,
    private readonly tail: TailService,
  ) {
    this.maxBatch = options.maxBatch;
    this.shutdownTimeoutMs = options.shutdownTimeoutMs;
    this.ledger = new DeliveryLedger((source) => this.file.floor(source));
    // Per-source state stays bounded whatever the number of sources ever seen (their floors go to
    // the file sink's floor store when they leave memory).
    this.eviction = new SourceEviction(
      {
        maxSources: options.maxSources,
        idleMs: options.sourceIdleMs,
        sweepMs: 5_000,
      },
      {
        isClean: (source) =>
          !(this.pipelines.get(source)?.busy ?? false) &&
          this.ledger.isClean(source) &&
          this.queue.isClean(source) &&
          this.file.isClean(source),
        persist: (sources) => this.file.persistFloors(sources),
        forget: (source) => {
          this.pipelines.delete(source);
          this.ledger.forget(source);
          this.queue.forget(source);
          this.file.forget(source);
        },
        sweepFailed: (error) =>
          this.logger.error(`could not evict idle sources, they stay in memory: ${describeError(error)}`),
      },
    );
  }

  onApplicationBootstrap(): void {
    this.eviction.start();
  }

  /** Sources whose state is in memory. */
  get sources(): number {
    return this.eviction.size;
  }

  /**
   * Takes the valid records of one frame (any sources, any order) and routes them by the rule set
   * in force now: a rule change applies from the next frame on, never inside one.
   */
  accept(connection: RecordSender, records: readonly DataRecord[], frame: FrameContext): void {
    if (this.stopping) {
      frame.hold();
      frame.settle('failed');
      connection.fail('filter shutting down');
      return;
    }
    const router = this.rules.current;
    const parts = splitBySource(connection, records, router, frame);
    // Hold the frame for every part before any is enqueued: a part can settle synchronously.
    for (let i = 0; i < parts.size; i++) frame.hold();
    for (const [source, part] of parts) {
      this.eviction.touch(source);
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
    this.eviction.stop();
    const all = Promise.all([...this.pipelines.values()].map((p) => p.idle()));
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, this.shutdownTimeoutMs).unref());
    await Promise.race([all, timeout]);
  }

  get backlog(): number {
    let queued = 0;
    for (const pipeline of this.pipelines.values()) queued += pipeline.queued;
    return queued;
  }

  /**
   * One hand-off of a source's records: its span belongs to the first frame's trace and links the
   * frames coalesced with it, so every frame's trace leads to the hand-off that carried it.
   */
  @Traced('records hand-off', {
    kind: SpanKind.PRODUCER,
    parent: (_source: string, part: SourcePart) => part.frames[0]?.context,
    links: (_source: string, part: SourcePart) => part.frames.slice(1).map((frame) => frame.context),
  })
  private async handOff(source: string, part: SourcePart): Promise<void> {
    trace.getActiveSpan()?.setAttributes({ 'dataflow.source': source, 'dataflow.records': part.records.length });
    // A source that left memory gets its floor back before its records are judged.
    if (!this.ledger.knows(source)) this.file.restore(source);
    await this.routeAndHandOff(source, part);
  }

  /** Runs inside the hand-off span: the queue sink carries its trace context into the AMQP headers. */
  private async routeAndHandOff(source: string, part: SourcePart): Promise<void> {
    const toQueue: DataRecord[] = [];
    const toFile: DataRecord[] = [];
    const floor = this.ledger.floor(source);
    const routed = new Map<RouteDecision, number>();
    // The route each record is handed on with: a record resent after a failed hand-off keeps its first one.
    const decisions = part.records.map(
      (record, index) => this.ledger.routeOf(source, record.seq) ?? (part.decisions[index] as RouteDecision),
    );
    let duplicates = 0;
    part.records.forEach((record, index) => {
      const decision = decisions[index] as RouteDecision;
      routed.set(decision, (routed.get(decision) ?? 0) + 1);
      if (record.seq <= floor) {
        duplicates++;
        return;
      }
      for (const sink of decision.sinks) {
        if (sink === 'queue') {
          if (this.queue.holds(source, record.seq)) duplicates++;
          else toQueue.push(record);
        } else if (this.file.holds(source, record.seq)) duplicates++;
        else toFile.push(record);
      }
    });
    // Both legs settle before anything is decided: a leg that failed fast must not let a resend
    // reach the other while it still holds these records in a buffer.
    const legs = await Promise.allSettled([this.queue.publish(source, toQueue), this.file.append(source, toFile)]);
    const failure = legs.find((leg): leg is PromiseRejectedResult => leg.status === 'rejected');
    if (failure) {
      const reason = failure.reason instanceof Error ? failure.reason.message : String(failure.reason);
      this.logger.warn(`hand-off of ${part.records.length} records of ${source} failed: ${reason}`);
      this.metrics.recordsProcessed('handoff', 'failed', part.records.length);
      this.ledger.remember(
        source,
        part.records.map((r) => r.seq),
        decisions,
      );
      for (const frame of part.frames) frame.settle('failed');
      part.connection.fail('sink unavailable');
      return;
    }
    const last = part.records.at(-1)?.seq ?? 0;
    if (this.ledger.advance(source, last)) {
      this.queue.settled(source, last);
      this.file.settled(source, last);
    }
    let dropped = 0;
    const versions = new Set<string>();
    for (const [decision, count] of routed) {
      this.metrics.routed(decision.route, decision.rule, decision.version, count);
      versions.add(decision.version);
      if (decision.route === 'drop') {
        dropped += count;
        this.metrics.droppedByRule(decision.reason ?? decision.rule, count);
      }
    }
    this.metrics.recordsProcessed('route', 'queue', toQueue.length);
    this.metrics.recordsProcessed('route', 'file', toFile.length);
    this.metrics.recordsProcessed('route', 'duplicate', duplicates);
    this.metrics.recordsProcessed('route', 'dropped', dropped);
    part.connection.ack(source, part.ackSeqs);
    for (const frame of part.frames) frame.settle('acked');
    this.logger.debug(
      {
        source,
        records: part.records.length,
        firstSeq: part.records[0]?.seq,
        lastSeq: part.records.at(-1)?.seq,
        queue: toQueue.length,
        file: toFile.length,
        dropped,
        duplicates,
        rulesVersion: [...versions].join(','),
        // Frames coalesced into this hand-off: their traces link to this one.
        ...(part.frames.length > 1 && {
          frameTraceIds: part.frames.map((f) => trace.getSpanContext(f.context)?.traceId),
        }),
      },
      'records handed on',
    );
    if (this.tail.listening) this.tail.publish(part.records, decisions);
  }
}
