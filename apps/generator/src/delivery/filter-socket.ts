import type { Logger } from '@nestjs/common';
import WebSocket from 'ws';
import { LinkError } from './link-error';

export interface FilterSocketOptions {
  readonly url: string;
  /** The URL as logged (a token or password in it masked). */
  readonly shownUrl: string;
  readonly token: string | undefined;
  readonly logger: Logger;
}

/** What the connection tells its owner. */
export interface FilterSocketEvents {
  opened(): void;
  message(data: WebSocket.RawData, isBinary: boolean): void;
  /** The filter closed the connection in use. */
  closed(code: number, reason: string): void;
}

/**
 * The generator's one WebSocket to the filter: opened on demand (one attempt at a time, shared by
 * every delivery waiting for it), dropped on any failure. What is sent on it and when is
 * FilterLink's business.
 */
export class FilterSocket {
  private socket: WebSocket | undefined;
  private connecting: Promise<WebSocket> | undefined;

  constructor(
    private readonly options: FilterSocketOptions,
    private readonly events: FilterSocketEvents,
  ) {}

  get connected(): boolean {
    return this.socket?.readyState === WebSocket.OPEN;
  }

  /**
   * The open connection, or the one being opened. `current` tells, when a new connection opens,
   * whether the link has been dropped since the attempt started: then it is discarded.
   */
  connect(signal: AbortSignal, current: () => boolean): Promise<WebSocket> {
    if (this.socket?.readyState === WebSocket.OPEN) return Promise.resolve(this.socket);
    this.connecting ??= this.open(signal, current).finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  /** Terminates the connection (if any); the next {@link connect} opens a new one. */
  drop(): void {
    const socket = this.socket;
    this.socket = undefined;
    this.connecting = undefined;
    if (socket) {
      socket.removeAllListeners('message');
      socket.terminate();
    }
  }

  /** Closes the connection normally (shutdown). */
  close(code: number, reason: string): void {
    this.socket?.close(code, reason);
    this.socket = undefined;
  }

  private open(signal: AbortSignal, current: () => boolean): Promise<WebSocket> {
    const { url, shownUrl, token, logger } = this.options;
    return new Promise<WebSocket>((resolve, reject) => {
      const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
      const socket = new WebSocket(url, { headers, handshakeTimeout: 5_000, perMessageDeflate: false });
      const onAbort = (): void => fail(new Error('timed out'));
      const fail = (error: Error): void => {
        signal.removeEventListener('abort', onAbort);
        socket.removeAllListeners();
        socket.on('error', () => undefined);
        socket.terminate();
        reject(new LinkError(`cannot connect to ${shownUrl}: ${error.message}`));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      socket.once('error', fail);
      socket.once('unexpected-response', (_req, res) => fail(new Error(`HTTP ${res.statusCode}`)));
      socket.once('open', () => {
        if (!current()) return fail(new Error('superseded'));
        signal.removeEventListener('abort', onAbort);
        socket.removeAllListeners();
        socket.on('message', (data, isBinary) => this.events.message(data, isBinary));
        socket.on('close', (code, reason) => {
          if (socket === this.socket) this.events.closed(code, reason.toString());
        });
        socket.on('error', (error) => logger.warn(`filter connection error: ${error.message}`));
        this.socket = socket;
        this.events.opened();
        resolve(socket);
      });
    });
  }
}
