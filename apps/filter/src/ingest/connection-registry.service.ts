import { Inject, Injectable } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import type WebSocket from 'ws';
import { WS_CLOSE_NORMAL, WS_CLOSE_POLICY_VIOLATION } from '@dataflow/contracts';
import { ConnectionLimits, IngestConnection } from './ingest-connection';
import { PenaltyBox } from './penalty-box';
import { IngestRefusals } from './ingest-refusals.service';
import { INGEST_OPTIONS, type IngestOptions } from './ingest.options';

/** The longest penalty, in multiples of the first (INGEST_ABUSE_PENALTY_MS). */
const PENALTY_MAX_FACTOR = 60;

/**
 * The IngestConnection of each open socket, shared by the adapter and the gateway. Also closes
 * connections that send no complete frame for INGEST_IDLE_TIMEOUT_MS: an idle sender holds a slot
 * of INGEST_MAX_CONNECTIONS, and one trickling a frame byte by byte never completes a message.
 */
@Injectable()
export class ConnectionRegistry {
  private readonly connections = new WeakMap<WebSocket, IngestConnection>();
  private readonly limits: ConnectionLimits;
  private readonly idleTimeoutMs: number;
  private openCount = 0;
  /** Addresses barred for a while after a connection of theirs was closed for abuse. */
  private readonly penalties: PenaltyBox;

  constructor(
    @Inject(INGEST_OPTIONS) options: IngestOptions,
    private readonly refusals: IngestRefusals,
  ) {
    this.limits = options.limits;
    this.idleTimeoutMs = options.idleTimeoutMs;
    const penaltyMs = options.abusePenaltyMs;
    this.penalties = new PenaltyBox(penaltyMs, penaltyMs * PENALTY_MAX_FACTOR);
  }

  register(socket: WebSocket, request?: IncomingMessage): IngestConnection {
    const existing = this.connections.get(socket);
    if (existing) return existing;
    const remote = request?.socket.remoteAddress ?? 'unknown';
    const connection = new IngestConnection(
      socket,
      remote,
      this.limits,
      (slow, queued) =>
        this.refusals.count(
          slow,
          'SLOW_READER',
          `${queued} bytes of answers not read, above INGEST_MAX_SEND_BUFFER_BYTES (closed ${WS_CLOSE_POLICY_VIOLATION})`,
        ),
      (abusive) => this.penalties.penalize(abusive.remote, performance.now()),
    );
    this.connections.set(socket, connection);
    this.openCount++;
    let idle = this.idleTimer(connection);
    socket.on('message', () => {
      clearTimeout(idle);
      idle = this.idleTimer(connection);
    });
    socket.once('close', () => {
      clearTimeout(idle);
      this.openCount--;
    });
    return connection;
  }

  get(socket: WebSocket): IngestConnection {
    return this.connections.get(socket) ?? this.register(socket);
  }

  get size(): number {
    return this.openCount;
  }

  /** Milliseconds `remote` may not open connections for, after abuse; 0 if it may. */
  barredFor(remote: string): number {
    return this.penalties.barredFor(remote, performance.now());
  }

  private idleTimer(connection: IngestConnection): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.refusals.count(
        connection,
        'IDLE_TIMEOUT',
        `no frame for ${this.idleTimeoutMs} ms (closed ${WS_CLOSE_NORMAL})`,
      );
      connection.close(WS_CLOSE_NORMAL, 'idle timeout');
    }, this.idleTimeoutMs);
    timer.unref();
    return timer;
  }
}
