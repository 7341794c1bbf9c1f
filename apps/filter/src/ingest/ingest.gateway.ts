import type { IncomingMessage } from 'node:http';
import {
  ConnectedSocket,
  MessageBody,
  OnGatewayConnection,
  SubscribeMessage,
  WebSocketGateway,
} from '@nestjs/websockets';
import type WebSocket from 'ws';
import { INGEST_PATH, RECORDS_EVENT } from '@dataflow/contracts';
import { ConnectionRegistry } from './connection-registry.service';
import { IngestService } from './ingest.service';

/** `ws://HOST:FILTER_PORT/ingest`: frames arrive here with a valid envelope (see IngestWsAdapter). */
@WebSocketGateway({ path: INGEST_PATH })
export class IngestGateway implements OnGatewayConnection {
  constructor(
    private readonly connections: ConnectionRegistry,
    private readonly ingest: IngestService,
  ) {}

  handleConnection(socket: WebSocket, request: IncomingMessage): void {
    this.connections.register(socket, request);
  }

  @SubscribeMessage(RECORDS_EVENT)
  onRecords(@ConnectedSocket() socket: WebSocket, @MessageBody() records: unknown[]): void {
    // Taken before this returns; the promise only tells when the frame is settled.
    void this.ingest.receive(this.connections.get(socket), records);
  }
}
