import type { Logger } from '@nestjs/common';
import WebSocket from 'ws';
import { LinkError } from './link-error';

export interface FilterSocketOptions {
  /**
   * The filter's URL, or several (filter replicas without a load balancer in front): the socket
   * stays on one while it works and moves to the next after a failed attempt or a lost connection.
   */
  readonly urls: readonly string[];
  /** How a URL is logged (a token or password in it masked). */
  readonly show: (url: string) => string;
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
  /** Index of the URL in use (or tried next). */
  private current = 0;

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

  /** The URL in use, as logged. */
  get shownUrl(): string {
    return this.options.show(this.url);
  }

  private get url(): string {
    return this.options.urls[this.current % this.options.urls.length] as string;
  }

  /** After a failure, the next attempt goes to the next URL (the same one when there is one). */
  private moveOn(): void {
    this.current = (this.current + 1) % this.options.urls.length;
  }

  private open(signal: AbortSignal, current: () => boolean): Promise<WebSocket> {
    const { token, logger } = this.options;
    const url = this.url;
    const shownUrl = this.options.show(url);
    return new Promise<WebSocket>((resolve, reject) => {
      const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
      const socket = new WebSocket(url, { headers, handshakeTimeout: 5_000, perMessageDeflate: false });
      const onAbort = (): void => fail(new Error('timed out'));
      const fail = (error: Error): void => {
        signal.removeEventListener('abort', onAbort);
        socket.removeAllListeners();
        socket.on('error', () => undefined);
        socket.terminate();
        this.moveOn();
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
          if (socket !== this.socket) return;
          this.moveOn();
          this.events.closed(code, reason.toString());
        });
        socket.on('error', (error) => logger.warn(`filter connection error: ${error.message}`));
        this.socket = socket;
        this.events.opened();
        resolve(socket);
      });
    });
  }
}
