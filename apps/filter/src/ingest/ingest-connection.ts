import type WebSocket from 'ws';
import { ACK_EVENT, ERROR_EVENT, ErrorPayload, WS_CLOSE_TRY_AGAIN_LATER } from '@dataflow/contracts';

import { TokenBucket } from './token-bucket';

let nextId = 0;

/** One sender's WebSocket, as the pipeline sees it: acknowledge, refuse, give up. */
export class IngestConnection {
  readonly id = ++nextId;

  private readonly bucket: TokenBucket;

  constructor(
    private readonly socket: WebSocket,
    readonly remote: string,
    maxRecordsPerSecond: number,
  ) {
    this.bucket = new TokenBucket(maxRecordsPerSecond, performance.now());
  }

  /** Whether the connection may send `count` more records now (its per-second allowance). */
  allows(count: number): boolean {
    return this.bucket.tryTake(count, performance.now());
  }

  get open(): boolean {
    return this.socket.readyState === this.socket.OPEN;
  }

  ack(source: string, seqs: readonly number[]): void {
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

  private send(frame: unknown): void {
    if (this.open) this.socket.send(JSON.stringify(frame));
  }
}
