import type { ConfirmChannel, ConsumeMessage } from 'amqplib';
import { CancelledError } from '@dataflow/observability/cancellation';

/** The consumer session its work belonged to has ended: its deliveries went back to the queue. */
export class SessionEndedError extends CancelledError {
  override readonly name = 'SessionEndedError';
}

/**
 * One channel and its consumer. Everything delivered on it is held by this process until it is
 * acknowledged; ending the session closes the channel, and the broker returns every delivery still
 * held to the queue, in delivery order and ahead of newer messages, to whichever consumer is next
 * (with a single active consumer, the standby). Cancelling the consumer instead would let the
 * standby take newer messages while this process still holds older ones.
 *
 * Work started for the session is tied to {@link signal}: it aborts when the session ends (closed
 * here, by the broker, or with the connection), so nothing of an ended session is acknowledged or
 * retried any more.
 */
export class ConsumerSession {
  private readonly controller = new AbortController();
  private closing: Promise<void> | undefined;
  private delivered = 0;
  private toWriter = 0;
  consumerTag: string | undefined;
  /** Set while shutting down: deliveries stay held, unprocessed, until the channel closes. */
  draining = false;

  constructor(
    readonly id: number,
    /** The queue (partition) it consumes. */
    readonly queue: string,
    readonly channel: ConfirmChannel,
    private readonly ended: (session: ConsumerSession, reason: string) => void,
  ) {
    channel.on('close', () => this.end('the channel closed'));
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get open(): boolean {
    return !this.controller.signal.aborted;
  }

  /** The position of the next delivery within this session (deliveries arrive in queue order). */
  nextIndex(): number {
    return ++this.delivered;
  }

  /**
   * Whether the delivery at `index` reaches the writer after every earlier one that did: the
   * writer must take them in queue order (a batch is written in the order it was filled). The path
   * from the channel to the writer keeps that order today (every message takes the same steps
   * through Nest's handler chain); this makes a change that breaks it fail loudly, not misorder.
   */
  reachesWriterInOrder(index: number): boolean {
    if (index <= this.toWriter) return false;
    this.toWriter = index;
    return true;
  }

  /** Acknowledges `message` if the session is still open; false if it went back to the queue. */
  ack(message: ConsumeMessage): boolean {
    if (!this.open) return false;
    try {
      this.channel.ack(message);
      return true;
    } catch {
      return false;
    }
  }

  /** Ends the session and closes its channel, returning what it holds to the queue. */
  close(reason: string): Promise<void> {
    this.end(reason);
    this.closing ??= this.channel.close().catch(() => undefined);
    return this.closing;
  }

  private end(reason: string): void {
    if (this.controller.signal.aborted) return;
    this.controller.abort(new SessionEndedError(`consumer session ${this.id} ended: ${reason}`));
    this.ended(this, reason);
  }
}
