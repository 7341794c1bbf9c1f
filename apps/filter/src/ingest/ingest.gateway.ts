import type { IncomingMessage } from 'node:http';
import {
  ConnectedSocket,
  MessageBody,
  OnGatewayConnection,
  SubscribeMessage,
  WebSocketGateway,
} from '@nestjs/websockets';
import type WebSocket from 'ws';
import { Logger } from '@nestjs/common';
import { INGEST_PATH, RECORDS_EVENT } from '@dataflow/contracts';
import { describeError } from '@dataflow/observability';
import { ConnectionRegistry } from './connection-registry.service';
import { IngestService } from './ingest.service';

/** `ws://HOST:FILTER_PORT/ingest`: frames arrive here with a valid envelope (see IngestWsAdapter). */
@WebSocketGateway({ path: INGEST_PATH })
export class IngestGateway implements OnGatewayConnection {
  private readonly logger = new Logger('ingest');

  constructor(
    private readonly connections: ConnectionRegistry,
    private readonly ingest: IngestService,
  ) {}

  handleConnection(socket: WebSocket, request: IncomingMessage): void {
    this.connections.register(socket, request);
  }

  @SubscribeMessage(RECORDS_EVENT)
  onRecords(@ConnectedSocket() socket: WebSocket, @MessageBody() records: unknown[]): void {
    // Taken before this returns; the promise only tells when the frame is settled. A failure while
    // taking it is logged and the connection closed (the sender resends), never left unhandled.
    const connection = this.connections.get(socket);
    this.ingest.receive(connection, records).catch((error: unknown) => {
      this.logger.error(`frame from connection ${connection.id} could not be taken: ${describeError(error)}`);
      connection.fail('frame could not be taken');
    });
  }
}
