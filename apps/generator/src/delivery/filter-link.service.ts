import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { ConfigService } from '@nestjs/config';
import { urlList } from '@dataflow/config';
import type WebSocket from 'ws';
import { ExponentialBackoff, IBackoff } from 'cockatiel';
import { DataRecord, RECORDS_EVENT, WS_CLOSE_NORMAL } from '@dataflow/contracts';
import { DataflowMetrics, describeError, injectTraceContext, redactUrl, Timed, Traced } from '@dataflow/observability';
import { BrokenCircuitError, CircuitState, NamedPolicy, PolicyRegistry } from '@dataflow/resilience';
import type { GeneratorConfig } from '../config/generator.config';
import { FilterAnswers } from './filter-answers';
import { FilterSocket } from './filter-socket';
import { FrameTracker, SentFrame } from './frame-tracker';
import { LinkError } from './link-error';
import { Outbox } from './outbox';

export const FILTER_POLICY = 'filter';

/**
 * The generator's side of the WebSocket protocol (CONTRACT.md §4). Records wait in the outbox until
 * the filter acknowledges them. Each frame's delivery (connect if needed, send, await its ack) runs
 * under the `filter` circuit breaker: connection failures, closes and ack timeouts count against
 * it; acknowledgements close it. Any failure drops the connection, and the next connection
 * resends every unacknowledged record in `seq` order, so the filter never sees a later record of
 * this source before an earlier unacknowledged one. The connection itself is FilterSocket's, the
 * judging of the filter's answers FilterAnswers'; this class is the send window.
 */
@Injectable()
export class FilterLink implements OnApplicationShutdown {
  private readonly logger = new Logger(FilterLink.name);
  private readonly outbox = new Outbox();
  private readonly frames = new FrameTracker();
  private readonly policy: NamedPolicy;
  private readonly source: string;
  private readonly socket: FilterSocket;
  private readonly answers: FilterAnswers;
  private readonly frameSize: number;
  private readonly maxFrames: number;
  private readonly maxBuffered: number;
  private readonly backoffFactory: ExponentialBackoff<unknown>;
  private backoff: IBackoff<unknown> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private drainWaiters: Array<() => void> = [];
  /** Frames created but not yet written to the socket, in creation (= seq) order. */
  private readonly unsent: Array<{ readonly payload: string; readonly epoch: number }> = [];
  /** Bumped whenever the connection is dropped; frames of an older epoch must never be sent. */
  private epoch = 0;

  constructor(
    @Inject(ConfigService) config: ConfigService<GeneratorConfig, true>,
    registry: PolicyRegistry,
    private readonly metrics: DataflowMetrics,
  ) {
    this.policy = registry.get(FILTER_POLICY);
    this.source = config.get('GENERATOR_ID', { infer: true });
    this.socket = new FilterSocket(
      {
        urls: urlList(config.get('FILTER_WS_URL', { infer: true })),
        show: redactUrl,
        token: config.get('INGEST_TOKEN', { infer: true }),
        logger: this.logger,
      },
      {
        opened: () =>
          this.logger.log(`connected to ${this.socket.shownUrl}; resending ${this.outbox.size} unacknowledged records`),
        message: (data, isBinary) => this.answers.handle(data, isBinary),
        closed: (code, reason) => {
          this.logger.warn(`filter closed the connection (${code}${reason ? `: ${reason}` : ''})`);
          this.linkFailed(new LinkError(`connection closed (${code})`), this.epoch);
        },
      },
    );
    this.answers = new FilterAnswers(this.source, metrics, this.logger, {
      settle: (seqs, outcome) => this.settle(seqs, outcome),
      // Nothing of that frame was taken: slow down by reconnecting with backoff and resend.
      rateLimited: () => this.linkFailed(new LinkError('rate limited by the filter'), this.epoch),
    });
    this.frameSize = config.get('GENERATOR_FRAME_SIZE', { infer: true });
    this.maxFrames = config.get('GENERATOR_MAX_FRAMES_IN_FLIGHT', { infer: true });
    this.maxBuffered = config.get('GENERATOR_MAX_BUFFERED', { infer: true });
    this.backoffFactory = new ExponentialBackoff({
      initialDelay: config.get('GENERATOR_RECONNECT_MIN_MS', { infer: true }),
      maxDelay: config.get('GENERATOR_RECONNECT_MAX_MS', { infer: true }),
    });
  }

  /** How many more records generation may hand over now (0 while the breaker is not closed). */
  capacity(): number {
    if (this.stopped || this.policy.state !== CircuitState.Closed) return 0;
    return Math.max(0, this.maxBuffered - this.outbox.size);
  }

  enqueue(record: DataRecord): void {
    this.outbox.push(record);
  }

  get connected(): boolean {
    return this.socket.connected;
  }

  get breakerState(): CircuitState {
    return this.policy.state;
  }

  get unacknowledged(): number {
    return this.outbox.size;
  }

  /** Sends what can be sent now. Called after generation and whenever the link's state changes. */
  pump(): void {
    if (this.stopped && this.outbox.size === 0) return;
    while (this.outbox.unsentCount > 0 && this.frames.inFlight < this.allowedFrames()) {
      const records = this.outbox.takeUnsent(this.frameSize);
      if (records.length === 0) continue;
      const frame = new SentFrame(records.map((r) => r.seq));
      this.frames.track(frame);
      void this.deliver(frame, records, this.epoch);
    }
  }

  /** Resolves once every generated record is acknowledged (or at once if none is pending). */
  drained(): Promise<void> {
    if (this.outbox.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  onApplicationShutdown(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.frames.failAll(new LinkError('shutting down'));
    this.socket.close(WS_CLOSE_NORMAL, 'generator shutting down');
  }

  /** Nothing while a retry is pending; half-open admits one trial frame; closed the full window. */
  private allowedFrames(): number {
    if (this.retryTimer) return 0;
    return this.policy.state === CircuitState.Closed ? this.maxFrames : 1;
  }

  /**
   * A frame's delivery, from its first send to its acknowledgement (or its failure). Each frame
   * starts a trace; its W3C context rides in the envelope to the filter and on. The frame is queued
   * for sending before anything is awaited, so frames go out in the order they were made.
   */
  // The root as parent: pump() also runs inside an earlier frame's span (after its ack, on a retry
  // timer or a socket event), and a frame's trace must not hang under another's.
  @Traced('records send', { kind: SpanKind.PRODUCER, parent: () => ROOT_CONTEXT })
  @Timed('filter.deliver', { sink: 'filter' })
  private async deliver(frame: SentFrame, records: readonly DataRecord[], epoch: number): Promise<void> {
    trace.getActiveSpan()?.setAttributes({ 'dataflow.source': this.source, 'dataflow.records': records.length });
    const payload = JSON.stringify({ event: RECORDS_EVENT, data: records, ...injectTraceContext() });
    this.unsent.push({ payload, epoch });
    this.logger.debug(
      { source: this.source, firstSeq: records[0]?.seq, lastSeq: records.at(-1)?.seq, records: records.length },
      'frame queued for the filter',
    );
    try {
      await this.policy.execute(async (signal) => {
        // A connection that opens after a drop it did not see is discarded.
        const opening = this.epoch;
        const socket = await this.socket.connect(signal, () => opening === this.epoch);
        // The connection was dropped while this frame waited: its records were rewound and the
        // next connection resends them from the oldest, so sending them here would reorder.
        if (epoch !== this.epoch) throw new LinkError('stale frame');
        this.sendInOrder(socket);
        // The policy aborts `signal` on timeout (and also once the call has settled, so the
        // listener is removed as soon as the frame settles).
        const onAbort = (): void => frame.fail(new LinkError('no acknowledgement in time'));
        signal.addEventListener('abort', onAbort, { once: true });
        try {
          await frame.done;
        } finally {
          signal.removeEventListener('abort', onAbort);
        }
      });
      this.backoff = undefined;
      this.pump();
    } catch (error) {
      trace.getActiveSpan()?.setStatus({ code: SpanStatusCode.ERROR, message: describeError(error) });
      frame.fail(error instanceof Error ? error : new Error(String(error)));
      this.linkFailed(error, epoch);
    }
  }

  /**
   * Writes every frame created so far, oldest first. Whichever delivery resumes first after the
   * connection opens sends them all, so promise timing can never put a later frame on the wire
   * before an earlier one. Frames of an older epoch are dropped (their records were rewound).
   */
  private sendInOrder(socket: WebSocket): void {
    for (let next = this.unsent.shift(); next; next = this.unsent.shift()) {
      if (next.epoch !== this.epoch) continue;
      socket.send(next.payload, (error) => {
        if (error) this.linkFailed(new LinkError(`send failed: ${error.message}`), next.epoch);
      });
    }
  }

  /** The connection of `epoch` failed: drop it, and resend everything unacknowledged after a backoff. */
  private linkFailed(error: unknown, epoch: number): void {
    // A failure from before the last drop is already handled; it must not drop a newer connection.
    if (this.stopped || epoch !== this.epoch) return;
    if (!(error instanceof BrokenCircuitError)) {
      this.logger.warn(`delivery to the filter failed: ${describeError(error)}`);
    }
    this.dropConnection();
    this.scheduleRetry();
  }

  /** Closes the connection and makes every unacknowledged record unsent, to be resent in order. */
  private dropConnection(): void {
    this.epoch++;
    this.socket.drop();
    this.frames.failAll(new LinkError('connection dropped'));
    const resent = this.outbox.rewind();
    if (resent > 0) this.metrics.recordsProcessed('deliver', 'resend', resent);
  }

  private scheduleRetry(): void {
    if (this.retryTimer || this.stopped) return;
    this.backoff = this.backoff ? this.backoff.next(undefined) : this.backoffFactory.next();
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.pump();
    }, this.backoff.duration);
    this.retryTimer.unref();
  }

  private settle(seqs: readonly number[], outcome: 'acked' | 'refused'): void {
    const settled = this.outbox.ack(seqs);
    this.frames.ack(seqs);
    this.metrics.recordsProcessed('deliver', outcome, settled);
    if (this.outbox.size === 0) {
      for (const resolve of this.drainWaiters.splice(0)) resolve();
    }
  }
}
