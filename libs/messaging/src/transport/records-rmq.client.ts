import { ClientRMQ, RmqRecordBuilder, type ReadPacket } from '@nestjs/microservices';
import type { ConfirmChannel, ConsumeMessage, Options } from 'amqplib';
import type { AmqpConnectionManager, ChannelWrapper } from 'amqp-connection-manager';
import { lastValueFrom } from 'rxjs';
import { CONSISTENT_HASH_EXCHANGE_TYPE, DataRecord, RECORDS_EXCHANGE, RECORDS_PATTERN } from '@dataflow/contracts';
import { declareTopology } from './topology';
import { UnroutableMessageError } from './unroutable.error';
import { RMQ_SOCKET_OPTIONS } from './socket-options';
import { urlList } from '@dataflow/config';

export interface RecordsClientOptions {
  readonly url: string;
  /** A publish not confirmed within this time fails (the connection manager would wait forever). */
  readonly publishTimeoutMs: number;
  /** Partitions per sink (`RECORD_PARTITIONS`), to declare the topology. */
  readonly partitions: number;
  /**
   * Where messages go: `dataflow.records` (both database sinks; the default), or the file sink's
   * partition exchange (partitioned topology only).
   */
  readonly exchange?: string;
}

/**
 * Nest's RMQ client, publishing record events to the fanout exchange (or the file sink's partition
 * exchange, see {@link RecordsClientOptions.exchange}) on a confirm channel with
 * the `mandatory` flag. `publishRecords` settles only when the broker has confirmed the message,
 * and fails when it refused or returned it, so the caller acknowledges upstream only after that.
 * Each message's routing key is its records' source, which the partitioned topology hashes to
 * choose the partition (the stock client would use the event pattern, the same for every message).
 */
export class RecordsRmqClient extends ClientRMQ {
  private readonly returned = new Set<string>();
  private sequence = 0;
  /** The publishing channel is set up on the current connection: the topology is declared. */
  private channelReady = false;
  private readonly exchange: string;

  constructor(private readonly settings: RecordsClientOptions) {
    const exchange = settings.exchange ?? RECORDS_EXCHANGE;
    super({
      urls: urlList(settings.url),
      exchange,
      exchangeType: exchange === RECORDS_EXCHANGE ? 'fanout' : CONSISTENT_HASH_EXCHANGE_TYPE,
      persistent: true,
      socketOptions: RMQ_SOCKET_OPTIONS,
    });
    this.exchange = exchange;
  }

  override createChannel(): Promise<void> {
    return new Promise((resolve) => {
      // Nest types its connection manager as `any`; it is amqp-connection-manager's.
      const manager = this.client as AmqpConnectionManager;
      manager.on('disconnect', () => {
        this.channelReady = false;
      });
      this.channel = manager.createChannel({
        json: false,
        confirm: true,
        publishTimeout: this.settings.publishTimeoutMs,
        setup: (channel: ConfirmChannel) => this.setupChannel(channel, resolve),
      });
    });
  }

  override async setupChannel(channel: ConfirmChannel, resolve: () => void): Promise<void> {
    await declareTopology(channel, this.settings.partitions);
    // A returned message arrives before its confirm (AMQP orders basic.return before basic.ack),
    // so by the time the publish promise settles the return has been recorded.
    channel.on('return', (message: ConsumeMessage) => {
      const id = message.properties.messageId as string | undefined;
      if (id) this.returned.add(id);
    });
    this.channelReady = true;
    resolve();
  }

  /**
   * Publishes an event packet as the stock client does with a fanout exchange, but with the
   * source of its records as the routing key (empty for anything else).
   */
  protected override dispatchEvent(packet: ReadPacket): Promise<void> {
    const { options, ...body } = this.serializer.serialize(packet) as { options?: Options.Publish; data?: unknown };
    // Nest types its channel as `any`; it is amqp-connection-manager's.
    const channel = this.channel as ChannelWrapper | null;
    if (!channel) return Promise.reject(new Error('no channel to publish on'));
    return channel
      .publish(this.exchange, routingKeyOf(body.data), Buffer.from(JSON.stringify(body)), {
        persistent: true,
        ...options,
        headers: this.mergeHeaders(options?.headers as Record<string, string> | undefined),
      })
      .then(() => undefined);
  }

  /** Publishes one message holding `records` (one source, `seq` order) and waits for the confirm. */
  async publishRecords(records: readonly DataRecord[], headers: Record<string, string> = {}): Promise<void> {
    const first = records[0];
    if (!first) return;
    const messageId = `${first.source}:${first.seq}:${records.length}:${++this.sequence}`;
    const message = new RmqRecordBuilder(records)
      .setOptions({
        mandatory: true,
        persistent: true,
        messageId,
        contentType: 'application/json',
        headers,
      })
      .build();
    try {
      await lastValueFrom(this.emit(RECORDS_PATTERN, message), { defaultValue: undefined });
    } finally {
      // Read after the confirm, whatever its outcome, so the set never grows.
      if (this.returned.delete(messageId)) {
        // eslint-disable-next-line no-unsafe-finally -- the return overrides a positive confirm
        throw new UnroutableMessageError(`message ${messageId} was returned by the broker: no queue bound`);
      }
    }
  }

  /**
   * Whether records can be published right now: the AMQP connection is up and the channel on it is
   * set up, the topology declared (the connection alone is up a moment earlier, before a queue may
   * be bound).
   */
  isReady(): boolean {
    const manager = this.client as { isConnected?: () => boolean } | null;
    return this.channelReady && (manager?.isConnected?.() ?? false);
  }
}

/** The source of a message's records: the routing key that keeps a source in one partition. */
function routingKeyOf(data: unknown): string {
  const first: unknown = Array.isArray(data) ? data[0] : data;
  if (first !== null && typeof first === 'object' && 'source' in first && typeof first.source === 'string') {
    return first.source;
  }
  return '';
}
