import amqp, { ChannelModel, ConfirmChannel } from 'amqplib';
import { randomInt } from 'node:crypto';
import { computeHash, DataRecord, MAX_RANDOM_VALUE, RECORDS_EXCHANGE, RECORDS_PATTERN } from '@dataflow/contracts';
import { withTimeout } from './services';
import { sleep } from '../kit/wait';

const CONFIRM_TIMEOUT_MS = 5000;

/**
 * Publishes records of a source of its own straight onto the exchange, as an external publisher
 * may (CONTRACT.md §5): messages of `batchSize` records in seq order, each confirmed by the broker
 * before the next is sent, and a message that fails is sent again until confirmed. So the writers
 * get messages of hundreds of records (which the filter sends only after a backlog), and the run
 * knows exactly which records the broker took: `confirmed`, plus at most the message in flight when
 * it stopped (`unsettled`: stored or not, both are right).
 */
export class DirectPublisher {
  readonly confirmed: DataRecord[] = [];
  unsettled: DataRecord[] = [];
  private seq = 0;
  private connection: ChannelModel | undefined;
  private channel: ConfirmChannel | undefined;
  private running: Promise<void> | undefined;
  private stopping = false;
  failures = 0;

  constructor(
    private readonly url: string,
    readonly source: string,
    private readonly ratePerSecond: number,
    private readonly batchSize: number,
  ) {}

  start(): void {
    if (this.ratePerSecond <= 0 || this.running) return;
    this.stopping = false;
    this.running = this.loop();
  }

  /** Stops after the message in flight settles (or its confirm times out). */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.running;
    this.running = undefined;
    const connection = this.connection;
    this.connection = undefined;
    this.channel = undefined;
    if (connection) await withTimeout(connection.close(), 5000, 'close the publisher').catch(() => undefined);
  }

  private async loop(): Promise<void> {
    const interval = (1000 * this.batchSize) / this.ratePerSecond;
    let next = Date.now();
    while (!this.stopping) {
      const timestamp = Date.now();
      const records = Array.from({ length: this.batchSize }, () => {
        const randomValue = randomInt(0, MAX_RANDOM_VALUE + 1);
        return {
          source: this.source,
          seq: ++this.seq,
          timestamp,
          randomValue,
          hashValue: computeHash(timestamp, randomValue),
        };
      });
      this.unsettled = records;
      // Sent again until the broker confirms it: a repeat is dropped by the writers (by seq).
      while (!(await this.publish(records))) {
        this.failures++;
        if (this.stopping) return;
        await sleep(500);
      }
      this.unsettled = [];
      this.confirmed.push(...records);
      next += interval;
      await sleep(Math.max(0, next - Date.now()));
      if (Date.now() - next > 10 * interval) next = Date.now(); // after an outage: no catch-up burst
    }
  }

  private async publish(records: readonly DataRecord[]): Promise<boolean> {
    try {
      const channel = await this.open();
      const body = Buffer.from(JSON.stringify({ pattern: RECORDS_PATTERN, data: records }));
      await withTimeout(
        new Promise<void>((resolve, reject) => {
          channel.publish(
            RECORDS_EXCHANGE,
            '',
            body,
            { persistent: true, contentType: 'application/json', mandatory: true },
            (error: unknown) => (error ? reject(new Error('nacked')) : resolve()),
          );
        }),
        CONFIRM_TIMEOUT_MS,
        'publish confirm',
      );
      return true;
    } catch {
      const connection = this.connection;
      this.connection = undefined;
      this.channel = undefined;
      void connection?.close().catch(() => undefined);
      return false;
    }
  }

  private async open(): Promise<ConfirmChannel> {
    if (this.channel) return this.channel;
    const connection = await withTimeout(amqp.connect(this.url, { timeout: 3000 }), 5000, 'connect the publisher');
    connection.on('error', () => undefined);
    connection.on('close', () => {
      if (this.connection === connection) {
        this.connection = undefined;
        this.channel = undefined;
      }
    });
    const channel = await withTimeout(connection.createConfirmChannel(), 5000, 'open a publisher channel');
    channel.on('error', () => undefined);
    channel.on('close', () => {
      if (this.channel === channel) this.channel = undefined;
    });
    this.connection = connection;
    this.channel = channel;
    return channel;
  }
}
