import amqp, { ChannelModel, Message } from 'amqplib';
import {
  DataRecord,
  MONGO_DLQ,
  MONGO_QUEUE,
  POSTGRES_DLQ,
  POSTGRES_QUEUE,
  RECORDS_EXCHANGE,
} from '@dataflow/contracts';
// The topology file alone: the barrel also exports Nest providers, which jest cannot load here.
import { declareTopology, deleteTopology } from '@dataflow/messaging/transport/topology';

export const RABBITMQ_URL = process.env.RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
/** The three nodes of `scripts/infra.sh cluster up`, for the scale-out specs. */
export const RABBITMQ_CLUSTER_URLS = (
  process.env.RABBITMQ_CLUSTER_URLS ??
  'amqp://guest:guest@127.0.0.1:5681,amqp://guest:guest@127.0.0.1:5682,amqp://guest:guest@127.0.0.1:5683'
).split(',');

export interface ProbeOptions {
  readonly url?: string;
  /** Partitions per sink of the topology it declares (RECORD_PARTITIONS); 1 unless given. */
  readonly partitions?: number;
}
export const ALL_QUEUES = [POSTGRES_QUEUE, MONGO_QUEUE, POSTGRES_DLQ, MONGO_DLQ];

/** A plain amqplib connection for tests: declare, purge, publish crafted messages, read queues. */
export class RabbitProbe {
  private constructor(
    private connection: ChannelModel,
    private readonly url: string,
    private readonly partitions: number,
  ) {}

  static async connect({ url = RABBITMQ_URL, partitions = 1 }: ProbeOptions = {}): Promise<RabbitProbe> {
    return new RabbitProbe(await RabbitProbe.open(url, partitions), url, partitions);
  }

  private static async open(url: string, partitions: number): Promise<ChannelModel> {
    const connection = await amqp.connect(url);
    // A test may stop the broker on purpose; the probe reconnects with reopen().
    connection.on('error', () => undefined);
    const channel = await connection.createChannel();
    await declareTopology(channel, partitions);
    await channel.close();
    return connection;
  }

  /** A fresh connection, after the broker was restarted. */
  async reopen(): Promise<void> {
    await this.connection.close().catch(() => undefined);
    this.connection = await RabbitProbe.open(this.url, this.partitions);
  }

  /** Declares the contract's topology again (re-binding any queue a test unbound). */
  async declare(): Promise<void> {
    const channel = await this.connection.createChannel();
    await declareTopology(channel, this.partitions);
    await channel.close();
  }

  /** Deletes the record topology for any partition count and declares this probe's anew: a clean slate. */
  async redeclare(): Promise<void> {
    const channel = await this.connection.createChannel();
    await deleteTopology(channel);
    await channel.close();
    await this.declare();
  }

  /** Unbinds both record queues from the exchange: every `mandatory` publish then comes back. */
  async unbindAll(): Promise<void> {
    const channel = await this.connection.createChannel();
    for (const queue of [POSTGRES_QUEUE, MONGO_QUEUE]) await channel.unbindQueue(queue, RECORDS_EXCHANGE, '');
    await channel.close();
  }

  async deleteQueue(queue: string): Promise<void> {
    const channel = await this.connection.createChannel();
    await channel.deleteQueue(queue);
    await channel.close();
  }

  async purgeAll(): Promise<void> {
    const channel = await this.connection.createChannel();
    for (const queue of ALL_QUEUES) await channel.purgeQueue(queue);
    await channel.close();
  }

  async depth(queue: string): Promise<number> {
    const channel = await this.connection.createChannel();
    const { messageCount } = await channel.checkQueue(queue);
    await channel.close();
    return messageCount;
  }

  /**
   * Takes every message off `queue` (acknowledging them). Consumes rather than `basic.get`, which
   * quorum queues with a single active consumer refuse; stops once the queue is empty.
   */
  async drain(queue: string): Promise<Message[]> {
    const channel = await this.connection.createChannel();
    await channel.prefetch(1000);
    const messages: Message[] = [];
    // Until the queue reports empty twice in a row: right after a broker restart a quorum queue
    // may report fewer ready messages than it is about to deliver.
    for (let empty = 0; empty < 2;) {
      let remaining = (await channel.checkQueue(queue)).messageCount;
      if (remaining === 0) {
        empty++;
        await new Promise((resolve) => setTimeout(resolve, 200));
        continue;
      }
      empty = 0;
      let finished: () => void = () => undefined;
      const allTaken = new Promise<void>((resolve) => {
        finished = resolve;
      });
      const { consumerTag } = await channel.consume(queue, (message) => {
        if (!message) return;
        messages.push(message);
        channel.ack(message);
        if (--remaining === 0) finished();
      });
      await allTaken;
      await channel.cancel(consumerTag);
    }
    await channel.close();
    return messages;
  }

  /**
   * Publishes raw bytes to the records exchange (both sinks get a copy), with `routingKey` (what a
   * partitioned topology hashes to choose the partition).
   */
  async publishRaw(content: Buffer | string, headers: Record<string, unknown> = {}, routingKey = ''): Promise<void> {
    const channel = await this.connection.createConfirmChannel();
    channel.publish(RECORDS_EXCHANGE, routingKey, Buffer.isBuffer(content) ? content : Buffer.from(content), {
      persistent: true,
      contentType: 'application/json',
      headers,
    });
    await channel.waitForConfirms();
    await channel.close();
  }

  /** Publishes records as the filter does: the source as routing key. */
  async publishRecords(records: DataRecord[] | DataRecord, headers: Record<string, unknown> = {}): Promise<void> {
    const source = (Array.isArray(records) ? records[0] : records)?.source ?? '';
    await this.publishRaw(JSON.stringify({ pattern: 'records.high', data: records }), headers, source);
  }

  async close(): Promise<void> {
    await this.connection.close().catch(() => undefined);
  }
}

/** Records carried by messages of the contract's format, in message order. */
export function recordsOf(messages: Message[]): DataRecord[] {
  return messages.flatMap((message) => {
    const packet = JSON.parse(message.content.toString()) as { data: DataRecord | DataRecord[] };
    return Array.isArray(packet.data) ? packet.data : [packet.data];
  });
}
