import { context } from '@opentelemetry/api';
import { extractTraceContext } from '@dataflow/observability/tracing';
import { Logger } from '@nestjs/common';
import { ServerRMQ } from '@nestjs/microservices';
import type { ConfirmChannel, ConsumeMessage } from 'amqplib';
import type { AmqpConnectionManager } from 'amqp-connection-manager';
import {
  DEAD_LETTER_EXCHANGE,
  DEAD_LETTER_QUEUE_HEADER,
  DEAD_LETTER_REASON_HEADER,
  queueDeclaration,
  RECORDS_PATTERN,
  REPLAYED_HEADER,
} from '@dataflow/contracts';
import { ConsumerSession } from './consumer-session';
import { RecordsContext } from './records-context';
import { decodeRecordsMessage } from './records-message.codec';
import { declareTopology } from './topology';
import { RMQ_SOCKET_OPTIONS } from './socket-options';

export interface RecordsServerOptions {
  readonly url: string;
  readonly queue: string;
  /** Unacknowledged messages the broker may push to this consumer. */
  readonly prefetch: number;
  /** Called for every message the server dead-letters itself, with the reason. */
  readonly onDeadLetter?: (reason: string) => void;
}

/** Why the server is not consuming right now, or undefined while it is. */
export type ConsumerState = { readonly consuming: true } | { readonly consuming: false; readonly reason: string };

/** The promise-API connection amqp-connection-manager hands out on every (re)connect. */
interface ChannelFactory {
  createConfirmChannel(): Promise<ConfirmChannel>;
}

/** How long after a session ended by itself a new one is opened (the broker had a reason). */
const REOPEN_DELAY_MS = 1000;

/**
 * Nest's RMQ server for the record queues, with manual acknowledgement. Differences from the stock
 * transport: it declares the whole topology with the contract's arguments; it decodes and validates
 * every message before any handler runs and dead-letters what can never be stored (with the reason
 * in a header); and it runs its consumer in {@link ConsumerSession}s of its own on the managed
 * connection, so that it can hand everything it holds back to the queue in order (rewind, suspend,
 * shutdown), and opens a new session whenever one ends without being asked to: a channel the broker
 * closed (an acknowledgement timeout), a consumer the broker cancelled (its queue deleted, a node
 * gone). amqp-connection-manager only recreates channels after a lost connection.
 */
export class RecordsRmqServer extends ServerRMQ {
  private readonly log = new Logger('RecordsRmqServer');
  private connection: ChannelFactory | undefined;
  private session: ConsumerSession | undefined;
  private opening: Promise<void> | undefined;
  private sessions = 0;
  private reopenTimer: NodeJS.Timeout | undefined;
  private suspendedFor: string | undefined;
  private stopping = false;
  private lastEnd = 'not connected to RabbitMQ yet';
  private listening: (() => void) | undefined;
  private readonly sessionListeners: Array<(session: ConsumerSession) => void> = [];

  constructor(private readonly settings: RecordsServerOptions) {
    super({
      urls: [settings.url],
      queue: settings.queue,
      noAck: false,
      prefetchCount: settings.prefetch,
      socketOptions: RMQ_SOCKET_OPTIONS,
    });
  }

  /** Connects (retrying without end) and resolves Nest's start once the first session consumes. */
  override async listen(callback: (error?: unknown) => void): Promise<void> {
    try {
      const manager = await this.createClient<AmqpConnectionManager>();
      this.server = manager;
      this.listening = () => {
        this.listening = undefined;
        callback();
      };
      manager.on('connect', ({ connection }) => {
        this.connection = connection as unknown as ChannelFactory;
        void this.openSession();
      });
      manager.on('disconnect', ({ err }) => {
        this.connection = undefined;
        this.log.warn(`disconnected from RabbitMQ: ${err instanceof Error ? err.message : 'unknown reason'}`);
      });
      manager.on('connectFailed', ({ err }) => this.log.warn(`RabbitMQ not reachable: ${err.message}`));
    } catch (error) {
      callback(error);
    }
  }

  override async close(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.reopenTimer);
    await this.session?.close('the server is closing');
    await (this.server as AmqpConnectionManager | null)?.close();
  }

  /** Called with every new session, before its first delivery. */
  onSession(listener: (session: ConsumerSession) => void): void {
    this.sessionListeners.push(listener);
  }

  /**
   * Hands everything held back to the queue (in order) and consumes again from there: what follows
   * a failed delivery must not be stored before it.
   */
  async rewind(reason: string): Promise<void> {
    this.log.warn(`returning every held message to ${this.settings.queue} and consuming again: ${reason}`);
    await this.session?.close(reason);
  }

  /** Hands everything held back and stops consuming until {@link resume} (another replica may take over). */
  async suspend(reason: string): Promise<void> {
    if (this.suspendedFor) return;
    this.suspendedFor = reason;
    this.log.warn(`pausing consumption of ${this.settings.queue} and returning every held message: ${reason}`);
    await this.session?.close(`paused: ${reason}`);
  }

  async resume(): Promise<void> {
    if (!this.suspendedFor) return;
    this.log.log(`resuming consumption of ${this.settings.queue}`);
    this.suspendedFor = undefined;
    await this.openSession();
  }

  /**
   * Shutdown, first step: deliveries from now on are held unprocessed (returned at {@link stop}),
   * and no new session opens (one ended by a failed write during the drain stays ended).
   */
  drain(): void {
    this.stopping = true;
    clearTimeout(this.reopenTimer);
    if (this.session) this.session.draining = true;
  }

  /** Shutdown, last step: returns whatever is still held and consumes no more. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.reopenTimer);
    await this.session?.close('shutting down');
  }

  consumerState(): ConsumerState {
    if (this.session?.consumerTag) return { consuming: true };
    return { consuming: false, reason: this.suspendedFor ? `paused: ${this.suspendedFor}` : this.lastEnd };
  }

  /** Whether the AMQP connection is up right now. */
  isConnected(): boolean {
    return (this.server as AmqpConnectionManager | null)?.isConnected() ?? false;
  }

  /**
   * Moves a message to the queue's DLQ with the reason in a header, then acknowledges it. The copy
   * is confirmed before the original is acknowledged: a crash in between leaves a duplicate in the
   * DLQ, never a loss.
   */
  async deadLetter(message: ConsumeMessage, session: ConsumerSession, detail: string, reason: string): Promise<void> {
    const { deadLetterQueue } = queueDeclaration(this.settings.queue);
    this.log.warn(`dead-lettering message ${message.fields.deliveryTag} from ${this.settings.queue}: ${detail}`);
    try {
      await new Promise<void>((resolve, reject) => {
        session.channel.publish(
          DEAD_LETTER_EXCHANGE,
          deadLetterQueue,
          message.content,
          {
            persistent: true,
            contentType: message.properties.contentType as string | undefined,
            messageId: message.properties.messageId as string | undefined,
            headers: {
              ...(message.properties.headers ?? {}),
              [DEAD_LETTER_REASON_HEADER]: detail.slice(0, 512),
              [DEAD_LETTER_QUEUE_HEADER]: this.settings.queue,
            },
          },
          (error: unknown) =>
            error ? reject(error instanceof Error ? error : new Error('publish to the DLQ was refused')) : resolve(),
        );
      });
      if (session.ack(message)) this.settings.onDeadLetter?.(reason);
    } catch (error) {
      // The channel went away: the broker redelivers the message and it is judged again.
      this.log.error(`could not dead-letter message: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  private async openSession(): Promise<void> {
    if (this.session || this.opening || this.suspendedFor || this.stopping || !this.connection) return;
    const connection = this.connection;
    this.opening = this.startSession(connection).finally(() => {
      this.opening = undefined;
    });
    await this.opening;
  }

  private async startSession(connection: ChannelFactory): Promise<void> {
    let channel: ConfirmChannel | undefined;
    try {
      channel = await connection.createConfirmChannel();
      // A channel error must end this session only: unhandled, amqplib would take the connection down.
      channel.on('error', (error: Error) => this.log.warn(`consumer channel error: ${error.message}`));
      await declareTopology(channel);
      await channel.prefetch(this.settings.prefetch, false);
    } catch (error) {
      this.lastEnd = `could not open a channel: ${error instanceof Error ? error.message : String(error)}`;
      this.log.warn(this.lastEnd);
      await channel?.close().catch(() => undefined);
      this.scheduleReopen();
      return;
    }
    const session = new ConsumerSession(++this.sessions, channel, (ended, reason) => this.sessionEnded(ended, reason));
    this.session = session;
    for (const listener of this.sessionListeners) listener(session);
    try {
      const { consumerTag } = await channel.consume(this.settings.queue, (message) => this.deliver(message, session), {
        noAck: false,
      });
      session.consumerTag = consumerTag;
    } catch (error) {
      await session.close(`could not consume: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    // Asked to stop or pause while the session was opening: hand it back at once.
    if (this.suspendedFor || this.stopping) await session.close('paused while opening');
    else this.listening?.();
  }

  private sessionEnded(session: ConsumerSession, reason: string): void {
    if (this.session !== session) return;
    this.session = undefined;
    this.lastEnd = `consumer session ended: ${reason}`;
    this.scheduleReopen();
  }

  private scheduleReopen(): void {
    if (this.stopping || this.suspendedFor || this.reopenTimer) return;
    this.reopenTimer = setTimeout(() => {
      this.reopenTimer = undefined;
      void this.openSession();
    }, REOPEN_DELAY_MS);
  }

  private deliver(message: ConsumeMessage | null, session: ConsumerSession): void {
    if (message === null) {
      this.log.warn(`the broker cancelled the consumer of ${this.settings.queue}; subscribing again`);
      void session.close('the broker cancelled the consumer');
      return;
    }
    // Held unprocessed: the channel's close returns it to the queue.
    if (session.draining || !session.open) return;
    const index = session.nextIndex();
    this.handleDelivery(message, session, index).catch((error: unknown) =>
      this.log.error(`message handling failed: ${error instanceof Error ? error.message : String(error)}`),
    );
  }

  private async handleDelivery(message: ConsumeMessage, session: ConsumerSession, index: number): Promise<void> {
    const decoded = decodeRecordsMessage(message.content);
    if (!decoded.ok) {
      await this.deadLetter(message, session, `${decoded.reason}: ${decoded.detail}`, decoded.reason);
      return;
    }
    // The handler runs in the filter's hand-off context (W3C trace context in the headers): its
    // span (`@Traced` on the handler) is a child of the hand-off.
    const replayed = typeof message.properties.headers?.[REPLAYED_HEADER] === 'number';
    const rmq = new RecordsContext(message, session, index, replayed, this.settings.queue);
    await context.with(extractTraceContext(message.properties.headers), () =>
      this.handleEvent(RECORDS_PATTERN, { pattern: RECORDS_PATTERN, data: decoded.records }, rmq),
    );
  }
}
