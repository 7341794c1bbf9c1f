import { RmqContext } from '@nestjs/microservices';
import type { ConsumeMessage } from 'amqplib';
import { RECORDS_PATTERN } from '@dataflow/contracts';
import type { ConsumerSession } from './consumer-session';

/** Nest's RMQ context of a records message, plus the consumer session it was delivered in. */
export class RecordsContext extends RmqContext {
  constructor(
    message: ConsumeMessage,
    readonly session: ConsumerSession,
    /** The delivery's position within its session. */
    readonly index: number,
    /** A dead letter published again: its records may have arrived after later ones. */
    readonly replayed: boolean,
    /** The queue it was consumed from. */
    readonly queue: string,
  ) {
    super([message, session.channel, RECORDS_PATTERN]);
  }

  get message(): ConsumeMessage {
    return this.getMessage() as ConsumeMessage;
  }
}
