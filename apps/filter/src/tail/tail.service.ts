import { BeforeApplicationShutdown, Inject, Injectable, Logger, ServiceUnavailableException } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import type { DataRecord, TailRecord } from '@dataflow/contracts';
import { DataflowMetrics } from '@dataflow/observability';
import { RefusalLog } from '../refusals/refusal-log';
import type { RouteDecision } from '../routing/record-router';
import { TAIL_OPTIONS, type TailOptions } from './tail.options';

interface Subscriber {
  readonly response: ServerResponse;
  /** Events skipped since the client last kept up; reported to it as `event: dropped`. */
  skipped: number;
}

const HEARTBEAT_MS = 15_000;

/**
 * The live stream of handed-on records for `GET /tail` (Server-Sent Events). It observes, it never
 * holds the pipeline back: while a client's socket buffer is full its events are skipped and
 * counted, and the client is told how many with an `event: dropped` once it drains. With no client
 * connected the pipeline does not build events at all. At most FILTER_TAIL_MAX_CLIENTS streams are
 * open at once (each may hold up to one chunk beyond its socket buffer); more get HTTP 503.
 */
@Injectable()
export class TailService implements BeforeApplicationShutdown {
  private readonly logger = new Logger(TailService.name);
  private readonly subscribers = new Set<Subscriber>();
  private heartbeat: NodeJS.Timeout | undefined;
  private readonly maxClients: number;

  constructor(
    private readonly metrics: DataflowMetrics,
    private readonly refusals: RefusalLog,
    @Inject(TAIL_OPTIONS) options: TailOptions,
  ) {
    this.maxClients = options.maxClients;
  }

  get listening(): boolean {
    return this.subscribers.size > 0;
  }

  /** Whether FILTER_TAIL_MAX_CLIENTS streams are open (see TailCapacityMiddleware). */
  get full(): boolean {
    return this.subscribers.size >= this.maxClients;
  }

  /** The body of a 503 for a full /tail. */
  get fullMessage(): string {
    return JSON.stringify({
      statusCode: 503,
      message: `at most ${this.maxClients} tail clients at once; try again later`,
      error: 'Service Unavailable',
    });
  }

  /** Counts (and logs, sampled) a request refused because /tail is full. */
  refused(remote: string): void {
    this.refusals.connectionRefused(
      'tail',
      'limit',
      remote,
      `${this.maxClients} tail clients, FILTER_TAIL_MAX_CLIENTS`,
    );
  }

  subscribe(response: ServerResponse): void {
    // The middleware refuses first; this covers a stream opened between its check and here.
    if (this.full) {
      this.refused(response.req.socket.remoteAddress ?? 'unknown');
      throw new ServiceUnavailableException(`at most ${this.maxClients} tail clients at once; try again later`);
    }
    response.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    response.write(': dataflow tail\n\n');
    const subscriber: Subscriber = { response, skipped: 0 };
    this.subscribers.add(subscriber);
    response.on('drain', () => this.reportSkipped(subscriber));
    response.on('close', () => {
      this.subscribers.delete(subscriber);
      if (this.subscribers.size === 0) this.stopHeartbeat();
    });
    this.heartbeat ??= setInterval(() => this.broadcast(': keep-alive\n\n', 0), HEARTBEAT_MS).unref();
    this.logger.log(`tail client connected (${this.subscribers.size} now)`);
  }

  publish(records: readonly DataRecord[], decisions: readonly RouteDecision[]): void {
    let chunk = '';
    records.forEach((record, index) => {
      const decision = decisions[index] as RouteDecision;
      const event: TailRecord = {
        source: record.source,
        seq: record.seq,
        timestamp: record.timestamp,
        randomValue: record.randomValue,
        hashValue: record.hashValue,
        route: decision.route,
        rule: decision.rule,
        rulesVersion: decision.version,
      };
      chunk += `event: record\ndata: ${JSON.stringify(event)}\n\n`;
    });
    this.broadcast(chunk, records.length);
  }

  /**
   * Ends every stream before the HTTP server closes: the server's close waits for open
   * connections, and an event stream never ends by itself, so a connected tail client would
   * otherwise hold up the drain until the shutdown timeout.
   */
  beforeApplicationShutdown(): void {
    this.stopHeartbeat();
    for (const subscriber of this.subscribers) subscriber.response.end();
    this.subscribers.clear();
  }

  private broadcast(chunk: string, events: number): void {
    for (const subscriber of this.subscribers) {
      if (subscriber.response.writableNeedDrain) {
        subscriber.skipped += events;
        this.metrics.tailDropped(events);
        continue;
      }
      subscriber.response.write(chunk);
    }
  }

  private reportSkipped(subscriber: Subscriber): void {
    if (subscriber.skipped === 0) return;
    subscriber.response.write(`event: dropped\ndata: ${JSON.stringify({ count: subscriber.skipped })}\n\n`);
    subscriber.skipped = 0;
  }

  private stopHeartbeat(): void {
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }
}
