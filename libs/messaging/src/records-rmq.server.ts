import { context, SpanKind } from '@opentelemetry/api';
import { contextWith, extractTraceContext, startSpan } from '@dataflow/observability/tracing';
import { Logger } from '@nestjs/common';
import { RmqContext, ServerRMQ } from '@nestjs/microservices';
import type { ConfirmChannel, ConsumeMessage } from 'amqplib';
import {
  DEAD_LETTER_EXCHANGE,
  DEAD_LETTER_QUEUE_HEADER,
  DEAD_LETTER_REASON_HEADER,
  queueDeclaration,
  RECORDS_PATTERN,
} from '@dataflow/contracts';
import { decodeRecordsMessage } from './records-message.codec';
import { declareTopology } from './topology';

export interface RecordsServerOptions {
  readonly url: string;
  readonly queue: string;
  /** Unacknowledged messages the broker may push to this consumer (the batching window). */
  readonly prefetch: number;
  /** Called for every message the server dead-letters itself, with the reason. */
  readonly onDeadLetter?: (reason: string) => void;
}

/**
 * Nest's RMQ server for the record queues, with manual acknowledgement. Differences from the stock
 * transport: it declares the whole topology with the contract's arguments; it decodes and validates
 * every message before any handler runs and dead-letters what can never be stored (with the reason
 * in a header) instead of leaving it unacknowledged or crashing; and it can pause and resume
 * consumption, so a writer whose database is down stops taking messages instead of failing them.
 */
export class RecordsRmqServer extends ServerRMQ {
  private readonly log = new Logger('RecordsRmqServer');
  private consumerChannel: ConfirmChannel | undefined;
  private consumerTag: string | undefined;
  private paused = false;

  constructor(private readonly settings: RecordsServerOptions) {
    super({
      urls: [settings.url],
      queue: settings.queue,
      noAck: false,
      prefetchCount: settings.prefetch,
      socketOptions: { heartbeatIntervalInSeconds: 5, reconnectTimeInSeconds: 1 },
    });
  }

  override async setupChannel(channel: ConfirmChannel, callback: () => void): Promise<void> {
    await declareTopology(channel);
    await channel.prefetch(this.settings.prefetch, false);
    this.consumerChannel = channel;
    this.consumerTag = undefined;
    if (!this.paused) await this.consume(channel);
    callback();
  }

  // The base class types the message loosely; amqplib delivers a ConsumeMessage, or null when the
  // broker cancels the consumer.
  override async handleMessage(raw: Record<string, unknown> | null, channel: ConfirmChannel): Promise<void> {
    const message = raw as ConsumeMessage | null;
    if (message === null) {
      this.log.warn(`the broker cancelled the consumer of ${this.settings.queue}`);
      return;
    }
    const decoded = decodeRecordsMessage(message.content);
    if (!decoded.ok) {
      await this.deadLetter(message, channel, `${decoded.reason}: ${decoded.detail}`, decoded.reason);
      return;
    }
    // The message's span is a child of the filter's hand-off (W3C trace context in its headers);
    // everything done for the message, its log lines included, runs in it.
    const parent = extractTraceContext(message.properties.headers);
    const span = startSpan('records process', { kind: SpanKind.CONSUMER }, parent);
    span.setAttribute('dataflow.records', decoded.records.length);
    span.setAttribute('messaging.destination.name', this.settings.queue);
    // The handler's acknowledgement (AcknowledgeInterceptor) ends the span once the message is settled.
    const rmq = new RmqContext([message, channel, RECORDS_PATTERN]);
    await context.with(contextWith(span, parent), () =>
      this.handleEvent(RECORDS_PATTERN, { pattern: RECORDS_PATTERN, data: decoded.records }, rmq),
    );
  }

  /** Stops taking new messages; those already delivered stay with the app until it settles them. */
  async pause(): Promise<void> {
    if (this.paused) return;
    this.paused = true;
    const { consumerChannel, consumerTag } = this;
    this.consumerTag = undefined;
    if (consumerChannel && consumerTag) {
      await consumerChannel.cancel(consumerTag).catch(() => undefined);
    }
  }

  async resume(): Promise<void> {
    if (!this.paused) return;
    this.paused = false;
    if (this.consumerChannel) await this.consume(this.consumerChannel).catch(() => undefined);
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** Whether the AMQP connection is up right now. */
  isConnected(): boolean {
    const manager = this.server as { isConnected?: () => boolean } | null;
    return manager?.isConnected?.() ?? false;
  }

  /**
   * Moves a message to the queue's DLQ with the reason in a header, then acknowledges it. The
   * copy is confirmed before the original is acknowledged: a crash in between leaves a duplicate
   * in the DLQ, never a loss.
   */
  async deadLetter(message: ConsumeMessage, channel: ConfirmChannel, detail: string, reason: string): Promise<void> {
    const { deadLetterQueue } = queueDeclaration(this.settings.queue);
    this.log.warn(`dead-lettering message ${message.fields.deliveryTag} from ${this.settings.queue}: ${detail}`);
    try {
      await new Promise<void>((resolve, reject) => {
        channel.publish(
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
      channel.ack(message);
      this.settings.onDeadLetter?.(reason);
    } catch (error) {
      // The channel went away: the broker redelivers the message and it is judged again.
      this.log.error(`could not dead-letter message: ${String(error)}`);
    }
  }

  private async consume(channel: ConfirmChannel): Promise<void> {
    const { consumerTag } = await channel.consume(
      this.settings.queue,
      (message) => {
        this.handleMessage(message as unknown as Record<string, unknown> | null, channel).catch((error: unknown) =>
          this.handleError(String(error)),
        );
      },
      { noAck: false },
    );
    this.consumerTag = consumerTag;
  }
}
