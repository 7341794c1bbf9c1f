import type { ConfirmChannel, ConsumeMessage } from 'amqplib';
import { CancelledError } from '@dataflow/resilience';

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
  consumerTag: string | undefined;
  /** Set while shutting down: deliveries stay held, unprocessed, until the channel closes. */
  draining = false;

  constructor(
    readonly id: number,
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
