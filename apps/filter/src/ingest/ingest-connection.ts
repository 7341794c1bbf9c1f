import type WebSocket from 'ws';
import {
  ACK_EVENT,
  ERROR_EVENT,
  ErrorPayload,
  WS_CLOSE_POLICY_VIOLATION,
  WS_CLOSE_TRY_AGAIN_LATER,
} from '@dataflow/contracts';

import { TokenBucket } from './token-bucket';
import type { RecordSender } from '../pipeline/record-sender';

let nextId = 0;

/** What one connection may cost the filter (see the filter's INGEST_* configuration). */
export interface ConnectionLimits {
  readonly maxRecordsPerSecond: number;
  readonly maxBytesPerSecond: number;
  readonly maxFramesPerSecond: number;
  readonly maxSendBufferBytes: number;
  readonly maxPendingRecords: number;
}

/**
 * Seconds of frame allowance a connection may use at once: a sender that answers each answer
 * with the next frame (a conversation, a test) is not slowed down, a sustained flood is.
 */
export const FRAME_BURST_SECONDS = 10;

/**
 * What a waiting frame costs besides its records (its trace span, context and answer), in records:
 * a flood of one-record frames fills INGEST_MAX_PENDING_RECORDS as fast as its memory use grows.
 */
export const PENDING_FRAME_COST = 16;

/**
 * What each distinct source of a waiting frame costs besides its records, in records. Its hand-off
 * (pipeline, span, promises, ledger and held-seq entries, a publish, a file append, an ack frame)
 * is about 5 KB while it waits and cannot leave memory (see SourceEviction) before it is settled,
 * and its completion is a fixed piece of event-loop work: the hand-offs of a connection's waiting
 * sources finish together, on one turn of the loop, when the broker confirms and the file flushes.
 * At 64, the default INGEST_MAX_PENDING_RECORDS lets about 780 sources of one connection wait
 * (`npm run attack`, distinct-sources: loop delay p99 76 ms, /health/live p99 57 ms), while a
 * frame of a thousand records of one source costs what it did.
 */
export const PENDING_SOURCE_COST = 64;

/** How long a connection closed for a bound may take to finish the close handshake. */
const CLOSE_GRACE_MS = 1000;

/** Which allowance a frame exceeded, and when the connection has enough of it again. */
export interface FrameLimit {
  readonly limit: 'INGEST_MAX_FRAMES_PER_SECOND' | 'INGEST_MAX_BYTES_PER_SECOND';
  readonly retryInMs: number;
}

/** One sender's WebSocket, as the pipeline sees it: acknowledge, refuse, give up. */
export class IngestConnection implements RecordSender {
  readonly id = ++nextId;

  private readonly records: TokenBucket;
  private readonly bytes: TokenBucket;
  private readonly frames: TokenBucket;
  /** Records taken from this connection and not yet acknowledged (waiting for their hand-off). */
  private pending = 0;
  /** Frames of this connection not yet answered. */
  private pendingFrames = 0;
  /** {@link PENDING_SOURCE_COST} for each source of each frame not yet answered. */
  private pendingSourceCost = 0;
  /** RATE_LIMITED answers this connection may get per second before it is closed for ignoring them. */
  private readonly refusals: TokenBucket;
  private readingStopped = false;

  constructor(
    private readonly socket: WebSocket,
    readonly remote: string,
    private readonly limits: ConnectionLimits,
    /** Called once when an answer would queue more than maxSendBufferBytes; the connection is closed. */
    private readonly onSlowReader: (connection: IngestConnection, queuedBytes: number) => void,
    /** Called when the connection is closed for abusing a bound (see {@link abort}). */
    private readonly onAbuse: (connection: IngestConnection) => void = () => undefined,
  ) {
    const now = performance.now();
    this.records = new TokenBucket(limits.maxRecordsPerSecond, now);
    this.bytes = new TokenBucket(limits.maxBytesPerSecond, now);
    this.frames = new TokenBucket(limits.maxFramesPerSecond, now, limits.maxFramesPerSecond * FRAME_BURST_SECONDS);
    this.refusals = new TokenBucket(limits.maxFramesPerSecond, now);
  }

  /** Whether the connection may send `count` more records now (its per-second allowance). */
  allows(count: number): boolean {
    return this.records.tryTake(count, performance.now());
  }

  /**
   * Which allowance a frame of `size` bytes exceeds, checked before it is parsed: every frame has
   * a fixed cost (framing, parsing, an answer) besides its size, so both are bounded.
   */
  frameOverLimit(size: number): FrameLimit | undefined {
    const now = performance.now();
    if (!this.frames.tryTake(1, now)) {
      return { limit: 'INGEST_MAX_FRAMES_PER_SECOND', retryInMs: this.frames.msUntil(1, now) };
    }
    if (!this.bytes.tryTake(size, now)) {
      return { limit: 'INGEST_MAX_BYTES_PER_SECOND', retryInMs: this.bytes.msUntil(size, now) };
    }
    return undefined;
  }

  /**
   * Stops reading the socket for `ms` (a frame was over an allowance): what the sender writes
   * meanwhile waits in TCP, on its side, instead of being received here only to be refused. Frames
   * already received are still judged (and refused) as they come.
   */
  stopReadingFor(ms: number): void {
    if (this.readingStopped || !this.open) return;
    this.readingStopped = true;
    this.socket.pause();
    setTimeout(() => {
      this.readingStopped = false;
      if (this.open) this.socket.resume();
    }, Math.ceil(ms)).unref();
  }

  /**
   * Records a RATE_LIMITED answer; true when the connection got more of them in a second than its
   * frame allowance. Answering such a flood frame by frame costs more than any bound on its input
   * saves: it is closed instead. A sender that backs off, like the generator (it reconnects after
   * the first one), never gets near this.
   */
  ignoresRateLimit(): boolean {
    return !this.refusals.tryTake(1, performance.now());
  }

  /**
   * Whether `count` more records may wait for their hand-off. The rate limits bound what arrives
   * per second, not what piles up when the sinks are slower than that: without this bound a
   * sender that does not wait for its acks would grow the filter's queues without end.
   */
  admits(count: number, sources = 0): boolean {
    // Nothing else of the connection waits: one frame is always taken, whatever it costs (a bound
    // set lower than a frame of many sources must not stall its sender for ever).
    if (this.pending === 0 && this.pendingSourceCost === 0 && this.pendingFrames <= 1) return true;
    const waiting = this.pending + this.pendingFrames * PENDING_FRAME_COST + this.pendingSourceCost;
    return waiting + count + sources * PENDING_SOURCE_COST <= this.limits.maxPendingRecords;
  }

  /** A frame arrived; {@link frameSettled} when it is answered (acked, refused or failed). */
  frameStarted(): void {
    this.pendingFrames++;
  }

  /** A frame's records of `sources` distinct sources were taken: they cost until it is answered. */
  sourcesTaken(sources: number): void {
    this.pendingSourceCost += sources * PENDING_SOURCE_COST;
  }

  /** The frame is answered; `sources` as given to {@link sourcesTaken} (0 if nothing was taken). */
  frameSettled(sources = 0): void {
    this.pendingFrames = Math.max(0, this.pendingFrames - 1);
    this.pendingSourceCost = Math.max(0, this.pendingSourceCost - sources * PENDING_SOURCE_COST);
  }

  /**
   * `count` records were handed to the pipeline. Each is acknowledged once (a repeat inside a frame
   * too), or the connection is failed; so acks bring the count back down.
   */
  taken(count: number): void {
    this.pending += count;
  }

  get open(): boolean {
    return this.socket.readyState === this.socket.OPEN;
  }

  ack(source: string, seqs: readonly number[]): void {
    this.pending = Math.max(0, this.pending - seqs.length);
    this.send({ event: ACK_EVENT, data: { source, seqs } });
  }

  error(payload: ErrorPayload): void {
    this.send({ event: ERROR_EVENT, data: payload });
  }

  /**
   * Hand-off failed: close so the sender resends everything unacknowledged, in order, on a new
   * connection. Frames already queued from this connection are then skipped, never reordered.
   */
  fail(reason: string): void {
    if (this.open) this.socket.close(WS_CLOSE_TRY_AGAIN_LATER, reason.slice(0, 120));
  }

  close(code: number, reason: string): void {
    if (this.open) this.socket.close(code, reason.slice(0, 120));
  }

  /**
   * Closes for a violated bound. A peer that does not read would never complete the close
   * handshake (ws waits 30 s for it), holding its queued bytes meanwhile: it is cut off after a
   * short grace instead.
   */
  abort(code: number, reason: string): void {
    if (!this.open) return;
    this.onAbuse(this);
    this.socket.close(code, reason.slice(0, 120));
    setTimeout(() => {
      if (this.socket.readyState !== this.socket.CLOSED) this.socket.terminate();
    }, CLOSE_GRACE_MS).unref();
  }

  private send(frame: unknown): void {
    if (!this.open) return;
    const text = JSON.stringify(frame);
    // bufferedAmount counts what ws and the kernel socket have not sent yet: a peer that stops
    // reading makes it grow, and nothing else would stop it.
    const queued = this.socket.bufferedAmount + Buffer.byteLength(text);
    if (queued > this.limits.maxSendBufferBytes) {
      this.onSlowReader(this, queued);
      this.abort(WS_CLOSE_POLICY_VIOLATION, 'slow reader: too many answers not read');
      return;
    }
    this.socket.send(text);
  }
}
