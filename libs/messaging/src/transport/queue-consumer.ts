import { Logger } from '@nestjs/common';
import type { ConfirmChannel, ConsumeMessage } from 'amqplib';
import { ConsumerSession } from './consumer-session';

/** The promise-API connection amqp-connection-manager hands out on every (re)connect. */
export interface ChannelFactory {
  createConfirmChannel(): Promise<ConfirmChannel>;
}

/** What a queue's consumer needs from the server that runs it. */
export interface ConsumerHost {
  /** The connection to open channels on; undefined while disconnected. */
  connection(): ChannelFactory | undefined;
  /** Whether no session may open now (paused or stopping). */
  held(): boolean;
  /** Prepares a new channel (topology, prefetch) before its consumer subscribes. */
  setUp(channel: ConfirmChannel): Promise<void>;
  /** A new session number, unique within the process. */
  nextSessionId(): number;
  /** Called with every new session, before its first delivery. */
  started(session: ConsumerSession): void;
  /** Called when a session subscribed. */
  consuming(): void;
  deliver(message: ConsumeMessage | null, session: ConsumerSession, queue: string): void;
}

/** How long after a session ended by itself a new one is opened (the broker had a reason). */
const REOPEN_DELAY_MS = 1000;
/** The longest each step of opening a session may take. */
const OPEN_STEP_TIMEOUT_MS = 15_000;

/**
 * `promise`, or a rejection after OPEN_STEP_TIMEOUT_MS; `late` gets what it resolves to after that
 * (to release it).
 */
async function withDeadline<T>(promise: Promise<T>, what: string, late?: (value: T) => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let expired = false;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      expired = true;
      reject(new Error(`${what}: no answer from RabbitMQ within ${OPEN_STEP_TIMEOUT_MS / 1000} s`));
    }, OPEN_STEP_TIMEOUT_MS);
  });
  promise.then(
    (value) => {
      if (expired) late?.(value);
    },
    () => undefined,
  );
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The consumer of one queue (one partition of a sink): at most one {@link ConsumerSession} at a
 * time, a new one opened whenever the last ended without being asked to (a channel the broker
 * closed, a consumer it cancelled, a lost connection). With the queue's single active consumer,
 * the session is the queue's active consumer or waits as its standby.
 */
export class QueueConsumer {
  private readonly log = new Logger('QueueConsumer');
  private session: ConsumerSession | undefined;
  private opening: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastEnd = 'not connected to RabbitMQ yet';
  /** Whether this process subscribes now (a standby subscription waits for its delay first). */
  private due = false;
  /** Counts connections: an open begun on an older one is stale. */
  private generation = 0;
  /** When the current session last received a message (epoch ms; 0: never). */
  private lastDeliveryAt = 0;

  constructor(
    readonly queue: string,
    /** Consumer priority (RabbitMQ 4.0 and later pick the single active consumer by it). */
    private readonly priority: number,
    private readonly host: ConsumerHost,
  ) {}

  /** Subscribes after `delayMs` (0: now), unless it is subscribed or about to be already. */
  start(delayMs: number): void {
    if (delayMs === 0) {
      this.due = true;
      this.cancelTimer();
      void this.open();
      return;
    }
    if (this.due || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.due = true;
      void this.open();
    }, delayMs);
  }

  /**
   * On a new connection: subscribes after `delayMs` again, as at the start. An open still in
   * progress on the old connection is left behind (it gives up its channel when it ends).
   */
  restart(delayMs: number): void {
    // A session of the old connection whose close was not reported yet: it is over.
    if (this.session) void this.session.close('the connection was replaced');
    this.generation++;
    this.opening = undefined;
    this.due = false;
    this.cancelTimer();
    this.start(delayMs);
  }

  /**
   * Ends the session, handing everything it holds back to the queue in order. `reopen`: subscribe
   * again after the usual delay (rewind); otherwise only the next {@link start} subscribes.
   */
  async close(reason: string, reopen: boolean): Promise<void> {
    if (!reopen) {
      this.due = false;
      this.cancelTimer();
    }
    await this.session?.close(reason);
  }

  /** Shutdown, first step: deliveries from now on are held unprocessed until the channel closes. */
  drain(): void {
    this.due = false;
    this.cancelTimer();
    if (this.session) this.session.draining = true;
  }

  /** Whether this session is the queue's active consumer: it received a message within `ms`. */
  activeWithin(ms: number): boolean {
    const session = this.session;
    return Boolean(session?.consumerTag && session.open && Date.now() - this.lastDeliveryAt <= ms);
  }

  /**
   * Hands the queue to the next consumer in line and subscribes again, at the back of the line (a
   * rewind). With a single active consumer on RabbitMQ 3.x, the only way to move a queue back to
   * the writer that prefers it.
   */
  async handOver(reason: string): Promise<void> {
    await this.close(reason, true);
  }

  /** Why this queue is not consumed right now; undefined while it is, or its standby delay runs. */
  notConsuming(): string | undefined {
    if (this.session?.consumerTag || !this.due) return undefined;
    return this.lastEnd;
  }

  private cancelTimer(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async open(): Promise<void> {
    const connection = this.host.connection();
    if (this.session || this.opening || !this.due || this.host.held() || !connection) return;
    const generation = this.generation;
    const opening = this.subscribe(connection, generation).finally(() => {
      if (this.opening === opening) this.opening = undefined;
    });
    this.opening = opening;
    await opening;
  }

  /**
   * Opens a channel, sets it up and subscribes. Every step has a deadline: a broker node going down
   * can leave a request unanswered, and an open that never ends would keep this queue unconsumed
   * for good. An attempt overtaken by a new connection ({@link restart}) gives up its channel.
   */
  private async subscribe(connection: ChannelFactory, generation: number): Promise<void> {
    let channel: ConfirmChannel | undefined;
    try {
      channel = await withDeadline(connection.createConfirmChannel(), 'opening a channel', (late) => {
        late.close().catch(() => undefined);
      });
      // A channel error must end this session only: unhandled, amqplib would take the connection down.
      channel.on('error', (error: Error) => this.log.warn(`consumer channel of ${this.queue}: ${error.message}`));
      await withDeadline(this.host.setUp(channel), 'setting up the channel');
    } catch (error) {
      this.lastEnd = `could not open a channel: ${error instanceof Error ? error.message : String(error)}`;
      this.log.warn(`${this.queue}: ${this.lastEnd}`);
      channel?.close().catch(() => undefined);
      if (generation === this.generation) this.scheduleReopen();
      return;
    }
    if (generation !== this.generation) {
      channel.close().catch(() => undefined);
      return;
    }
    const session = new ConsumerSession(this.host.nextSessionId(), this.queue, channel, (ended, reason) =>
      this.ended(ended, reason),
    );
    this.session = session;
    // Active or not is this session's to show: a standby session has received nothing yet.
    this.lastDeliveryAt = 0;
    this.host.started(session);
    try {
      const { consumerTag } = await withDeadline(
        channel.consume(
          this.queue,
          (message) => {
            this.lastDeliveryAt = Date.now();
            this.host.deliver(message, session, this.queue);
          },
          { noAck: false, priority: this.priority },
        ),
        'subscribing',
      );
      session.consumerTag = consumerTag;
    } catch (error) {
      // Ends the session at once (and schedules the next); the channel closes when it can.
      void session.close(`could not consume: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    // Asked to stop or pause while the session was opening: hand it back at once.
    if (this.host.held() || !this.due) await session.close('paused while opening');
    else this.host.consuming();
  }

  private ended(session: ConsumerSession, reason: string): void {
    if (this.session !== session) return;
    this.log.log(`${this.queue}: consumer session ${session.id} ended: ${reason}`);
    this.session = undefined;
    this.lastEnd = `consumer session ended: ${reason}`;
    this.scheduleReopen();
  }

  private scheduleReopen(): void {
    if (!this.due || this.host.held() || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.open();
    }, REOPEN_DELAY_MS);
  }
}
