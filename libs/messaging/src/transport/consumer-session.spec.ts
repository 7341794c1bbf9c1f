import type { ConfirmChannel } from 'amqplib';
import { ConsumerSession } from './consumer-session';

const channel = { on: () => undefined } as unknown as ConfirmChannel;

describe('ConsumerSession', () => {
  it('numbers deliveries and lets them reach the writer only in that order', () => {
    const session = new ConsumerSession(1, 'dataflow.records.mongo', channel, () => undefined);
    const [first, second, third] = [session.nextIndex(), session.nextIndex(), session.nextIndex()];
    expect([first, second, third]).toEqual([1, 2, 3]);
    expect(session.reachesWriterInOrder(first)).toBe(true);
    // The second was dead-lettered on the way: skipping it is fine, going back is not.
    expect(session.reachesWriterInOrder(third)).toBe(true);
    expect(session.reachesWriterInOrder(second)).toBe(false);
    expect(session.reachesWriterInOrder(third)).toBe(false);
  });
});
