import type { INestApplicationContext } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import type { MessageMappingProperties } from '@nestjs/websockets';
import { context } from '@opentelemetry/api';
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isObservable, Observable } from 'rxjs';
import type WebSocket from 'ws';
import {
  MAX_FRAME_BYTES,
  RECORDS_EVENT,
  WS_CLOSE_MESSAGE_TOO_BIG,
  WS_CLOSE_POLICY_VIOLATION,
  WS_CLOSE_UNSUPPORTED_DATA,
} from '@dataflow/contracts';
import { describeError, extractTraceContext } from '@dataflow/observability';
import { ConnectionRegistry } from './connection-registry.service';
import { envelopeProblem } from './envelope';
import { exceedsDepth } from './frame-depth';
import type { IngestAdapterOptions } from './ingest.options';
import { RefusalLog } from '../refusals/refusal-log';
import { IngestRefusals } from './ingest-refusals.service';
import { TokenBucket } from './token-bucket';

type VerifyCallback = (result: boolean, code?: number, message?: string) => void;

/**
 * The ingest endpoint's transport rules (CONTRACT.md §4), in front of the gateway: bearer-token
 * check on the upgrade (401), a cap on open and on new connections (503), the 1 MiB frame cap (ws
 * closes with 1009), binary frames refused (close 1003), then per frame, cheapest first: the frame
 * and byte allowances before anything is decoded (`RATE_LIMITED`), the nesting depth before parsing (close 1008), and the
 * envelope: text that is not JSON is `INVALID_JSON`, anything but
 * `{"event":"records","data":[1..1000 records]}` is `INVALID_ENVELOPE`. Only a valid envelope
 * reaches the gateway's handler. Nest's stock adapter drops such frames silently.
 */
export class IngestWsAdapter extends WsAdapter {
  private readonly token: Buffer | undefined;
  /**
   * Each connection has its own allowances, so a client that reconnects at once after every close
   * (a deep frame, a slow reader) would get fresh ones each time: new connections are rationed.
   */
  private readonly newConnections: TokenBucket;

  constructor(
    app: INestApplicationContext,
    private readonly options: IngestAdapterOptions,
    private readonly registry: ConnectionRegistry,
    private readonly refusals: IngestRefusals,
    private readonly refusalLog: RefusalLog,
  ) {
    super(app);
    this.token = options.token ? Buffer.from(options.token, 'utf8') : undefined;
    this.newConnections = new TokenBucket(options.maxNewConnectionsPerSecond, performance.now());
  }

  override create(port: number, options: Record<string, unknown> & { path?: string } = {}): unknown {
    return super.create(port, {
      ...options,
      maxPayload: MAX_FRAME_BYTES,
      perMessageDeflate: false,
      // One frame of a connection per turn of the event loop: ws would otherwise emit every frame
      // of a read (libuv reads up to 2 MiB at once) in one go, and a sender of many small frames
      // would hold the loop for hundreds of ms, health probes included. While a frame waits for its
      // turn, ws stops reading that socket.
      allowSynchronousEvents: false,
      verifyClient: (info: { req: IncomingMessage }, callback: VerifyCallback) => this.verify(info.req, callback),
    });
  }

  override bindMessageHandlers(
    client: WebSocket,
    handlers: MessageMappingProperties[],
    transform: (data: unknown) => Observable<unknown>,
  ): void {
    const handler = handlers.find((h) => h.message === RECORDS_EVENT);
    const connection = this.registry.get(client);
    client.on('error', (error: Error & { code?: string }) => {
      if (error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
        // ws has already closed the connection with 1009.
        this.refusals.count(
          connection,
          'FRAME_TOO_LARGE',
          `frame above ${MAX_FRAME_BYTES} bytes (closed ${WS_CLOSE_MESSAGE_TOO_BIG})`,
        );
      }
    });
    client.on('message', (data: WebSocket.RawData, isBinary: boolean) => {
      if (isBinary) {
        this.refusals.count(
          connection,
          'BINARY_FRAME',
          `binary frames are not accepted (closed ${WS_CLOSE_UNSUPPORTED_DATA})`,
        );
        connection.close(WS_CLOSE_UNSUPPORTED_DATA, 'binary frames are not accepted');
        return;
      }
      // Closing for a bound already: what the peer still sends costs nothing more.
      if (!connection.open) return;
      const bytes = rawBytes(data);
      // Every frame, valid or not, is charged before it costs any parsing.
      const over = connection.frameOverLimit(bytes.length);
      if (over !== undefined) {
        this.refusals.refuse(connection, {
          code: 'RATE_LIMITED',
          message: `more than ${over.limit} allows; slow down and resend`,
        });
        connection.stopReadingFor(over.retryInMs);
        return;
      }
      if (exceedsDepth(bytes, this.options.maxDepth)) {
        this.refusals.count(
          connection,
          'FRAME_TOO_DEEP',
          `JSON nested deeper than ${this.options.maxDepth} levels (closed ${WS_CLOSE_POLICY_VIOLATION})`,
        );
        connection.abort(WS_CLOSE_POLICY_VIOLATION, `frame nested deeper than ${this.options.maxDepth} levels`);
        return;
      }
      let frame: unknown;
      try {
        frame = JSON.parse(bytes.toString('utf8'));
      } catch {
        this.refusals.refuse(connection, { code: 'INVALID_JSON', message: 'frame is not valid JSON' });
        return;
      }
      const problem = envelopeProblem(frame);
      if (problem !== undefined || !handler) {
        this.refusals.refuse(connection, { code: 'INVALID_ENVELOPE', message: problem ?? 'no handler' });
        return;
      }
      try {
        const envelope = frame as { data: unknown[]; traceparent?: string; tracestate?: string };
        // The handler runs when its result is subscribed to (interceptors defer it), so both happen
        // in the trace context the frame carried.
        context.with(extractTraceContext(envelope), () => {
          const result = handler.callback(envelope.data, RECORDS_EVENT);
          if (isObservable(result) || result instanceof Promise)
            transform(result).subscribe({ error: () => undefined });
        });
      } catch (error) {
        this.logger.error(`records handler failed: ${describeError(error)}`);
      }
    });
  }

  private verify(request: IncomingMessage, callback: VerifyCallback): void {
    const remote = request.socket.remoteAddress ?? 'unknown';
    if (this.token && !this.authorized(request)) {
      this.refusalLog.connectionRefused('ingest', 'unauthorized', remote, 'no valid INGEST_TOKEN (HTTP 401)');
      callback(false, 401, 'Unauthorized');
      return;
    }
    const barredMs = this.registry.barredFor(remote);
    if (barredMs > 0) {
      this.refusalLog.connectionRefused(
        'ingest',
        'penalty',
        remote,
        `barred for ${Math.ceil(barredMs)} ms more after a connection closed for abuse (HTTP 503)`,
      );
      callback(false, 503, 'Barred after abuse; try again later');
      return;
    }
    if (this.registry.size >= this.options.maxConnections) {
      this.refusalLog.connectionRefused(
        'ingest',
        'limit',
        remote,
        `${this.options.maxConnections} connections open, INGEST_MAX_CONNECTIONS (HTTP 503)`,
      );
      callback(false, 503, 'Too many connections');
      return;
    }
    if (!this.newConnections.tryTake(1, performance.now())) {
      this.refusalLog.connectionRefused(
        'ingest',
        'rate',
        remote,
        `more than ${this.options.maxNewConnectionsPerSecond} new connections a second, INGEST_MAX_NEW_CONNECTIONS_PER_SECOND (HTTP 503)`,
      );
      callback(false, 503, 'Too many new connections');
      return;
    }
    callback(true);
  }

  /** Bearer header or `?token=`, compared in constant time. */
  private authorized(request: IncomingMessage): boolean {
    const expected = this.token as Buffer;
    const header = request.headers.authorization;
    let presented: string | undefined;
    if (header?.startsWith('Bearer ')) presented = header.slice('Bearer '.length).trim();
    else presented = new URL(request.url ?? '/', 'http://localhost').searchParams.get('token') ?? undefined;
    if (presented === undefined) return false;
    const given = Buffer.from(presented, 'utf8');
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}

/** Bytes of a ws message (a Buffer unless the socket was told otherwise). */
function rawBytes(data: WebSocket.RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}
