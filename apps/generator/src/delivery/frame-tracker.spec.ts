import { FrameTracker, SentFrame } from './frame-tracker';

type State = 'pending' | 'resolved' | { rejected: Error };

function watch(frame: SentFrame): () => State {
  let state: State = 'pending';
  frame.done.then(
    () => (state = 'resolved'),
    (error: Error) => (state = { rejected: error }),
  );
  return () => state;
}

/** Lets promise reactions (settling, the tracker's bookkeeping) run. */
async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

describe('SentFrame', () => {
  it('settles when as many acks as seqs arrived', async () => {
    const frame = new SentFrame([1, 2, 3]);
    const state = watch(frame);
    frame.acked(2);
    await flush();
    expect(state()).toBe('pending');
    frame.acked(1);
    await flush();
    expect(state()).toBe('resolved');
  });

  it('fails with the given error', async () => {
    const frame = new SentFrame([1]);
    const error = new Error('gone');
    const state = watch(frame);
    frame.fail(error);
    await flush();
    expect(state()).toEqual({ rejected: error });
  });

  it('does not raise an unhandled rejection when nobody awaits a failed frame', async () => {
    const unhandled: unknown[] = [];
    const listener = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', listener);
    try {
      new SentFrame([1]).fail(new Error('nobody listens'));
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', listener);
    }
  });
});

describe('FrameTracker', () => {
  it('settles a frame once every seq in it is acked, in any order and spread over acks', async () => {
    const tracker = new FrameTracker();
    const frame = new SentFrame([1, 2, 3]);
    const state = watch(frame);
    tracker.track(frame);
    expect(tracker.inFlight).toBe(1);

    tracker.ack([3]);
    tracker.ack([1]);
    await flush();
    expect(state()).toBe('pending');
    expect(tracker.inFlight).toBe(1);

    tracker.ack([2]);
    await flush();
    expect(state()).toBe('resolved');
    expect(tracker.inFlight).toBe(0);
  });

  it('counts a repeated ack of the same seq only once', async () => {
    const tracker = new FrameTracker();
    const frame = new SentFrame([1, 2]);
    const state = watch(frame);
    tracker.track(frame);
    tracker.ack([1, 1]);
    tracker.ack([1]);
    await flush();
    expect(state()).toBe('pending');
    tracker.ack([2]);
    await flush();
    expect(state()).toBe('resolved');
  });

  it('routes each seq of one ack to its own frame', async () => {
    const tracker = new FrameTracker();
    const a = new SentFrame([1, 2]);
    const b = new SentFrame([3, 4]);
    const c = new SentFrame([5]);
    const [sa, sb, sc] = [watch(a), watch(b), watch(c)];
    tracker.track(a);
    tracker.track(b);
    tracker.track(c);
    expect(tracker.inFlight).toBe(3);

    tracker.ack([2, 1, 3, 99]);
    await flush();
    expect(sa()).toBe('resolved');
    expect(sb()).toBe('pending');
    expect(sc()).toBe('pending');
    expect(tracker.inFlight).toBe(2);
  });

  it('ignores acks for seqs it does not track', async () => {
    const tracker = new FrameTracker();
    const frame = new SentFrame([1]);
    const state = watch(frame);
    tracker.track(frame);
    tracker.ack([2, 3]);
    await flush();
    expect(state()).toBe('pending');
    expect(tracker.inFlight).toBe(1);
  });

  it('failAll rejects every pending frame and empties the tracker', async () => {
    const tracker = new FrameTracker();
    const done = new SentFrame([1]);
    const a = new SentFrame([2, 3]);
    const b = new SentFrame([4]);
    const [sDone, sa, sb] = [watch(done), watch(a), watch(b)];
    tracker.track(done);
    tracker.track(a);
    tracker.track(b);
    tracker.ack([1, 2]);
    await flush();
    expect(tracker.inFlight).toBe(2);

    const error = new Error('connection dropped');
    tracker.failAll(error);
    await flush();
    expect(sDone()).toBe('resolved');
    expect(sa()).toEqual({ rejected: error });
    expect(sb()).toEqual({ rejected: error });
    expect(tracker.inFlight).toBe(0);

    // Late acks for failed frames change nothing.
    tracker.ack([3, 4]);
    await flush();
    expect(sa()).toEqual({ rejected: error });
  });

  it('after failAll, a resent frame with the same seqs is settled by their acks', async () => {
    const tracker = new FrameTracker();
    const old = new SentFrame([1, 2]);
    tracker.track(old);
    tracker.failAll(new Error('dropped'));
    const resent = new SentFrame([1, 2]);
    const state = watch(resent);
    tracker.track(resent);
    await flush();
    expect(tracker.inFlight).toBe(1);
    tracker.ack([1, 2]);
    await flush();
    expect(state()).toBe('resolved');
    expect(tracker.inFlight).toBe(0);
  });

  it('a resent frame tracked before the old one is forgotten keeps its seqs', async () => {
    const tracker = new FrameTracker();
    const old = new SentFrame([1, 2]);
    tracker.track(old);
    tracker.failAll(new Error('dropped'));
    // Tracked synchronously, before the old frame's rejection has been processed.
    const resent = new SentFrame([1, 2]);
    const state = watch(resent);
    tracker.track(resent);
    await flush();
    tracker.ack([1, 2]);
    await flush();
    expect(state()).toBe('resolved');
  });
});
