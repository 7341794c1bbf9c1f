import { context } from '@opentelemetry/api';
import { extractTraceContext } from '@dataflow/observability/tracing';
import { Logger } from '@nestjs/common';
import { ServerRMQ } from '@nestjs/microservices';
import type { ConsumeMessage } from 'amqplib';
import type { AmqpConnectionManager } from 'amqp-connection-manager';
import {
  DEAD_LETTER_EXCHANGE,
  DEAD_LETTER_QUEUE_HEADER,
  DEAD_LETTER_REASON_HEADER,
  RECORDS_PATTERN,
  REPLAYED_HEADER,
  sinkTopology,
  type RecordSink,
} from '@dataflow/contracts';
import type { ConsumerSession } from './consumer-session';
import { QueueConsumer, type ChannelFactory, type ConsumerHost } from './queue-consumer';
import { RecordsContext } from './records-context';
import { decodeRecordsMessage } from './records-message.codec';
import { declareTopology } from './topology';
import { RMQ_SOCKET_OPTIONS } from './socket-options';
import { urlList } from '@dataflow/config';

export interface RecordsServerOptions {
  /** A node's URL, or several separated by commas (tried in turn). */
  readonly url: string;
  /**
   * The sink whose queues this server consumes: all its partitions. The file sink has queues only
   * when partitioned; unpartitioned, the server consumes nothing and never connects.
   */
  readonly sink: RecordSink;
  /** Partitions per sink (`RECORD_PARTITIONS`), to declare the topology and name the queues. */
  readonly partitions: number;
  /** Unacknowledged messages the broker may push to each queue's consumer. */
  readonly prefetch: number;
  /**
   * This writer's place among `replicas` writers of the sink: it prefers the partitions p with
   * p mod replicas = ordinal. It subscribes to those at once and to the others `standbyDelayMs`
   * later, so that with several writers starting together each partition's single active consumer
   * is the writer that prefers it (RabbitMQ 3.x activates the first to subscribe). Unset: it
   * prefers every partition.
   */
  readonly ordinal?: number;
  readonly replicas?: number;
  readonly standbyDelayMs?: number;
  /**
   * With an ordinal: every this many ms, one partition this process is active on but does not prefer
   * is handed to the next consumer in line when the writer that prefers it is connected. On RabbitMQ
   * 3.x, where the first consumer to subscribe stays active, this moves partitions back to their
   * writers after a restart or a rollout.
   */
  readonly rebalanceMs?: number;
  /** Called for every message the server dead-letters itself, with the reason. */
  readonly onDeadLetter?: (reason: string) => void;
}

/** Why the server is not consuming right now, or undefined while it is. */
export type ConsumerState = { readonly consuming: true } | { readonly consuming: false; readonly reason: string };

/** Consumer priorities: RabbitMQ 4.0 and later make the highest the queue's single active consumer. */
const PREFERRED_PRIORITY = 2;
const STANDBY_PRIORITY = 1;
const DEFAULT_STANDBY_DELAY_MS = 5000;
/** AMQP reply code of a passive declare of another connection's exclusive queue. */
const RESOURCE_LOCKED = 405;

/**
 * Nest's RMQ server for a sink's record queues, with manual acknowledgement. Differences from the
 * stock transport: it declares the whole topology with the contract's arguments; it consumes every
 * partition of its sink, each in {@link ConsumerSession}s of its own (a {@link QueueConsumer} per
 * queue), so that it can hand everything it holds of a partition back to the queue in order
 * (rewind, suspend, shutdown) and opens a new session whenever one ends without being asked to;
 * and it decodes and validates every message before any handler runs and dead-letters what can
 * never be stored (with the reason in a header). amqp-connection-manager only recreates channels
 * after a lost connection.
 */
export class RecordsRmqServer extends ServerRMQ {
  private readonly log = new Logger('RecordsRmqServer');
  private readonly deadLetterQueue: string;
  private readonly consumers: readonly QueueConsumer[];
  private connection: ChannelFactory | undefined;
  private sessions = 0;
  private suspendedFor: string | undefined;
  private stopping = false;
  private listening: (() => void) | undefined;
  private rebalanceTimer: NodeJS.Timeout | undefined;
  /** The connection this writer's presence queue was declared on. */
  private announcedOn: ChannelFactory | undefined;
  private readonly sessionListeners: Array<(session: ConsumerSession) => void> = [];

  constructor(private readonly settings: RecordsServerOptions) {
    const sink = sinkTopology(settings.sink, settings.partitions);
    super({
      urls: urlList(settings.url),
      queue: sink?.queues[0]?.queue,
      noAck: false,
      prefetchCount: settings.prefetch,
      socketOptions: RMQ_SOCKET_OPTIONS,
    });
    this.deadLetterQueue = sink?.deadLetterQueue ?? '';
    const host: ConsumerHost = {
      connection: () => this.connection,
      held: () => this.stopping || this.suspendedFor !== undefined,
      setUp: async (channel) => {
        await declareTopology(channel, settings.partitions);
        await channel.prefetch(settings.prefetch, false);
      },
      nextSessionId: () => ++this.sessions,
      started: (session) => {
        for (const listener of this.sessionListeners) listener(session);
      },
      consuming: () => this.listening?.(),
      deliver: (message, session, queue) => this.deliver(message, session, queue),
    };
    this.consumers = (sink?.queues ?? []).map(
      ({ queue }, partition) =>
        new QueueConsumer(queue, this.isPreferred(partition) ? PREFERRED_PRIORITY : STANDBY_PRIORITY, host),
    );
  }

  /** The queues consumed, in partition order. */
  get queues(): readonly string[] {
    return this.consumers.map((c) => c.queue);
  }

  /** Connects (retrying without end) and resolves Nest's start once the first session consumes. */
  override async listen(callback: (error?: unknown) => void): Promise<void> {
    if (this.consumers.length === 0) {
      callback();
      return;
    }
    try {
      const manager = await this.createClient<AmqpConnectionManager>();
      this.server = manager;
      this.listening = () => {
        this.listening = undefined;
        callback();
      };
      manager.on('connect', ({ connection }) => {
        this.connection = connection as unknown as ChannelFactory;
        this.subscribeAll((consumer, delayMs) => consumer.restart(delayMs));
        void this.announce();
      });
      manager.on('disconnect', ({ err }) => {
        this.connection = undefined;
        this.log.warn(`disconnected from RabbitMQ: ${err instanceof Error ? err.message : 'unknown reason'}`);
      });
      manager.on('connectFailed', ({ err }) => this.log.warn(`RabbitMQ not reachable: ${err.message}`));
      this.startRebalancing();
    } catch (error) {
      callback(error);
    }
  }

  override async close(): Promise<void> {
    this.stopping = true;
    clearInterval(this.rebalanceTimer);
    await this.closeAll('the server is closing');
    await (this.server as AmqpConnectionManager | null)?.close();
  }

  /** Called with every new session, before its first delivery. */
  onSession(listener: (session: ConsumerSession) => void): void {
    this.sessionListeners.push(listener);
  }

  /**
   * Hands everything held of `session`'s queue back to it (in order) and consumes it again from
   * there: what follows a failed delivery must not be stored before it.
   */
  async rewind(session: ConsumerSession, reason: string): Promise<void> {
    // Ended already: its messages went back with it, and a newer session of the queue is not its to end.
    if (!session.open) return;
    this.log.warn(`returning every held message to ${session.queue} and consuming again: ${reason}`);
    await this.consumerOf(session)?.close(reason, true);
  }

  /** Hands everything back and stops consuming until {@link resume} (another replica may take over). */
  async suspend(reason: string): Promise<void> {
    if (this.suspendedFor) return;
    this.suspendedFor = reason;
    this.log.warn(`pausing consumption of ${this.describe()} and returning every held message: ${reason}`);
    await this.closeAll(`paused: ${reason}`);
  }

  resume(): void {
    if (!this.suspendedFor) return;
    this.log.log(`resuming consumption of ${this.describe()}`);
    this.suspendedFor = undefined;
    this.subscribeAll((consumer, delayMs) => consumer.start(delayMs));
  }

  /**
   * Shutdown, first step: deliveries from now on are held unprocessed (returned at {@link stop}),
   * and no new session opens (one ended by a failed write during the drain stays ended).
   */
  drain(): void {
    this.stopping = true;
    clearInterval(this.rebalanceTimer);
    for (const consumer of this.consumers) consumer.drain();
  }

  /** Shutdown, last step: returns whatever is still held and consumes no more. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.closeAll('shutting down');
  }

  /** Consuming while every queue due has a consumer (a standby subscription waiting its delay counts). */
  consumerState(): ConsumerState {
    if (this.suspendedFor) return { consuming: false, reason: `paused: ${this.suspendedFor}` };
    for (const consumer of this.consumers) {
      const reason = consumer.notConsuming();
      if (reason !== undefined) {
        return { consuming: false, reason: this.consumers.length > 1 ? `${consumer.queue}: ${reason}` : reason };
      }
    }
    return { consuming: true };
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
    const deadLetterQueue = this.deadLetterQueue;
    this.log.warn(`dead-lettering message ${message.fields.deliveryTag} from ${session.queue}: ${detail}`);
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
              [DEAD_LETTER_QUEUE_HEADER]: session.queue,
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

  /**
   * Makes this writer's presence visible to the others: an exclusive queue named after its sink and
   * ordinal, which the broker deletes when the connection goes (see {@link startRebalancing}).
   */
  private async announce(): Promise<void> {
    const { ordinal } = this.settings;
    const connection = this.connection;
    if (ordinal === undefined || !connection || this.announcedOn === connection) return;
    this.announcedOn = connection;
    try {
      const channel = await connection.createConfirmChannel();
      channel.on('error', () => undefined);
      await channel.assertQueue(presenceQueue(this.settings.sink, ordinal), {
        exclusive: true,
        autoDelete: true,
        durable: false,
      });
      await channel.close();
    } catch (error) {
      // RESOURCE_LOCKED: another process holds it (a second writer with this ordinal, or this one's
      // last connection not yet gone). Partitions are still consumed; the next round tries again.
      if (this.announcedOn === connection) this.announcedOn = undefined;
      this.log.warn(`could not announce writer ${ordinal} of ${this.settings.sink}: ${errorText(error)}`);
    }
  }

  /** Whether the writer with `ordinal` is connected (its presence queue exists). */
  private async present(ordinal: number): Promise<boolean> {
    const connection = this.connection;
    if (!connection) return false;
    try {
      const channel = await connection.createConfirmChannel();
      channel.on('error', () => undefined);
      await channel.checkQueue(presenceQueue(this.settings.sink, ordinal));
      await channel.close();
      return true;
    } catch (error) {
      // The check closes the channel either way: 405 RESOURCE_LOCKED, the queue exists and is
      // another connection's (the writer is there); 404 NOT_FOUND, it is not.
      return (error as { code?: unknown }).code === RESOURCE_LOCKED;
    }
  }

  /**
   * See {@link RecordsServerOptions.rebalanceMs}. At most one partition a round, so that hand-overs
   * do not pile up; a partition handed over may go to another standby first (the next in line),
   * which hands it on in a later round, until the writer that prefers it is active.
   */
  private startRebalancing(): void {
    const { ordinal, rebalanceMs, replicas } = this.settings;
    if (ordinal === undefined || !rebalanceMs || !replicas || replicas < 2) return;
    this.rebalanceTimer = setInterval(() => {
      if (this.stopping || this.suspendedFor) return;
      void (async () => {
        await this.announce();
        const present = new Map<number, boolean>();
        for (const [partition, consumer] of this.consumers.entries()) {
          const owner = partition % replicas;
          if (owner === ordinal || !consumer.activeWithin(rebalanceMs)) continue;
          if (!present.has(owner)) present.set(owner, await this.present(owner));
          if (!present.get(owner)) continue;
          const reason = `handing ${consumer.queue} back: writer ${owner} prefers it and is connected`;
          this.log.log(reason);
          await consumer.handOver(reason);
          return;
        }
      })();
    }, rebalanceMs);
    this.rebalanceTimer.unref();
  }

  private isPreferred(partition: number): boolean {
    const { ordinal, replicas = 1 } = this.settings;
    return ordinal === undefined || partition % replicas === ordinal;
  }

  /** Subscribes to the preferred partitions now and to the others as a standby, a little later. */
  private subscribeAll(start: (consumer: QueueConsumer, delayMs: number) => void): void {
    const standbyDelayMs = this.settings.standbyDelayMs ?? DEFAULT_STANDBY_DELAY_MS;
    this.consumers.forEach((consumer, partition) => start(consumer, this.isPreferred(partition) ? 0 : standbyDelayMs));
  }

  private async closeAll(reason: string): Promise<void> {
    await Promise.all(this.consumers.map((consumer) => consumer.close(reason, false)));
  }

  private consumerOf(session: ConsumerSession): QueueConsumer | undefined {
    return this.consumers.find((consumer) => consumer.queue === session.queue);
  }

  private describe(): string {
    const [first] = this.consumers;
    return this.consumers.length === 1 && first ? first.queue : `the ${this.settings.sink} partitions`;
  }

  private deliver(message: ConsumeMessage | null, session: ConsumerSession, queue: string): void {
    if (message === null) {
      this.log.warn(`the broker cancelled the consumer of ${queue}; subscribing again`);
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
    const rmq = new RecordsContext(message, session, index, replayed, session.queue);
    await context.with(extractTraceContext(message.properties.headers), () =>
      this.handleEvent(RECORDS_PATTERN, { pattern: RECORDS_PATTERN, data: decoded.records }, rmq),
    );
  }
}

/** The queue whose existence says that writer `ordinal` of `sink` is connected. */
export function presenceQueue(sink: RecordSink, ordinal: number): string {
  return `dataflow.writers.${sink}.${ordinal}`;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
