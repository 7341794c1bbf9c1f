import { Injectable } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import type WebSocket from 'ws';
import { IngestConnection } from './ingest-connection';

/** The IngestConnection of each open socket, shared by the adapter and the gateway. */
@Injectable()
export class ConnectionRegistry {
  private readonly connections = new WeakMap<WebSocket, IngestConnection>();
  private openCount = 0;

  register(socket: WebSocket, request?: IncomingMessage): IngestConnection {
    const existing = this.connections.get(socket);
    if (existing) return existing;
    const remote = request?.socket.remoteAddress ?? 'unknown';
    const connection = new IngestConnection(socket, remote);
    this.connections.set(socket, connection);
    this.openCount++;
    socket.once('close', () => {
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
}
