import { jest } from '@jest/globals';
import type { DataRecord } from '@dataflow/contracts';
import { DeliveryBatcher, PermanentStoreError } from './delivery-batcher';

const record = (seq: number): DataRecord => ({ source: 's', seq, timestamp: seq, randomValue: 1, hashValue: '00' });
const records = (...seqs: number[]): DataRecord[] => seqs.map(record);

class Refused extends Error {}

describe('DeliveryBatcher', () => {
  afterEach(() => jest.useRealTimers());

  it('writes a full batch at once, in one call, and settles every message of it', async () => {
    const calls: number[][] = [];
    const batcher = new DeliveryBatcher({
      batchSize: 4,
      batchMs: 10_000,
      store: (rs) => {
        calls.push(rs.map((r) => r.seq));
        return Promise.resolve();
      },
      isPermanent: () => false,
    });
    await Promise.all([batcher.add(records(1, 2)), batcher.add(records(3, 4))]);
    expect(calls).toEqual([[1, 2, 3, 4]]);
  });

  it('writes a partly filled batch after batchMs', async () => {
    jest.useFakeTimers();
    const calls: number[][] = [];
    const batcher = new DeliveryBatcher({
      batchSize: 100,
      batchMs: 50,
      store: (rs) => {
        calls.push(rs.map((r) => r.seq));
        return Promise.resolve();
      },
      isPermanent: () => false,
    });
    const done = batcher.add(records(7));
    await jest.advanceTimersByTimeAsync(49);
    expect(calls).toEqual([]);
    await jest.advanceTimersByTimeAsync(1);
    await done;
    expect(calls).toEqual([[7]]);
  });

  it('splits a permanently refused batch so only the refused message fails', async () => {
    const batcher = new DeliveryBatcher({
      batchSize: 6,
      batchMs: 10_000,
      store: (rs) => (rs.some((r) => r.seq === 4) ? Promise.reject(new Refused('bad row')) : Promise.resolve()),
      isPermanent: (error) => error instanceof Refused,
    });
    const outcomes = await Promise.allSettled([
      batcher.add(records(1, 2)),
      batcher.add(records(3, 4)),
      batcher.add(records(5, 6)),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const rejected = outcomes[1] as PromiseRejectedResult;
    expect(rejected.reason).toBeInstanceOf(PermanentStoreError);
    expect((rejected.reason as Error).message).toBe('bad row');
  });

  it('fails every message of the batch on a transient error (they stay unacknowledged)', async () => {
    const batcher = new DeliveryBatcher({
      batchSize: 2,
      batchMs: 10_000,
      store: () => Promise.reject(new Error('connection lost')),
      isPermanent: () => false,
    });
    const outcomes = await Promise.allSettled([batcher.add(records(1)), batcher.add(records(2))]);
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected']);
    expect(outcomes.some((o) => o.status === 'rejected' && o.reason instanceof PermanentStoreError)).toBe(false);
  });

  it('serialises writes: a batch starts only after the previous one settled', async () => {
    const events: string[] = [];
    let release: () => void = () => undefined;
    const batcher = new DeliveryBatcher({
      batchSize: 1,
      batchMs: 10_000,
      store: (rs) => {
        const seq = rs[0]?.seq;
        events.push(`start ${seq}`);
        if (seq === 1) {
          return new Promise<void>((resolve) => {
            release = () => {
              events.push('end 1');
              resolve();
            };
          });
        }
        events.push(`end ${seq}`);
        return Promise.resolve();
      },
      isPermanent: () => false,
    });
    const first = batcher.add(records(1));
    const second = batcher.add(records(2));
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(events).toEqual(['start 1']);
    release();
    await Promise.all([first, second]);
    expect(events).toEqual(['start 1', 'end 1', 'start 2', 'end 2']);
  });

  it('takes what arrived during a write in one next write, up to five batches, whole messages', async () => {
    const calls: number[][] = [];
    let release: () => void = () => undefined;
    const batcher = new DeliveryBatcher({
      batchSize: 2,
      batchMs: 10_000,
      store: (rs) => {
        calls.push(rs.map((r) => r.seq));
        if (calls.length > 1) return Promise.resolve();
        return new Promise<void>((resolve) => {
          release = resolve;
        });
      },
      isPermanent: () => false,
    });
    const all = [batcher.add(records(1, 2))];
    // Twelve records in six messages arrive while the first write is in flight.
    for (let seq = 3; seq <= 13; seq += 2) all.push(batcher.add(records(seq, seq + 1)));
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(calls).toEqual([[1, 2]]);
    release();
    await Promise.all(all);
    expect(calls).toEqual([
      [1, 2],
      [3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
      [13, 14],
    ]);
  });

  it('flush writes everything pending and waits for it', async () => {
    const calls: number[][] = [];
    const batcher = new DeliveryBatcher({
      batchSize: 100,
      batchMs: 10_000,
      store: async (rs) => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        calls.push(rs.map((r) => r.seq));
      },
      isPermanent: () => false,
    });
    const added = [batcher.add(records(1)), batcher.add(records(2))];
    await batcher.flush();
    expect(calls).toEqual([[1, 2]]);
    await Promise.all(added);
  });

  it('a write that fails for good fails everything pending of its session, and nothing later of it is written', async () => {
    const session = new AbortController();
    const calls: number[][] = [];
    let fail = true;
    const batcher = new DeliveryBatcher({
      batchSize: 2,
      batchMs: 10_000,
      store: async (rs) => {
        calls.push(rs.map((r) => r.seq));
        await new Promise((resolve) => setTimeout(resolve, 5));
        if (fail) throw new Error('gave up');
      },
      isPermanent: () => false,
    });
    const first = batcher.add(records(1, 2), session.signal);
    const later = [batcher.add(records(3), session.signal), batcher.add(records(4), session.signal)];
    const outcomes = await Promise.allSettled([first, ...later]);
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(calls).toEqual([[1, 2]]);
    // The session is over for the batcher: a message of it arriving afterwards is refused at once.
    fail = false;
    await expect(batcher.add(records(5), session.signal)).rejects.toThrow(/earlier write of this consumer session/);
    // A new session (its messages redelivered in order) is written as usual.
    await batcher.add(records(1, 2), new AbortController().signal);
    expect(calls).toEqual([
      [1, 2],
      [1, 2],
    ]);
  });

  it('an ended session abandons its pending messages and its write in progress at once', async () => {
    const session = new AbortController();
    let releaseStale: () => void = () => undefined;
    const calls: number[][] = [];
    const signals: Array<AbortSignal | undefined> = [];
    const batcher = new DeliveryBatcher({
      batchSize: 1,
      batchMs: 10_000,
      store: (rs, _context, signal) => {
        calls.push(rs.map((r) => r.seq));
        signals.push(signal);
        // The first write never finishes by itself (a database that answers nothing).
        if (calls.length === 1) return new Promise<void>((resolve) => (releaseStale = resolve));
        return Promise.resolve();
      },
      isPermanent: () => false,
    });
    const inFlight = batcher.add(records(1), session.signal);
    const pending = batcher.add(records(2), session.signal);
    session.abort(new Error('session ended'));
    await expect(inFlight).rejects.toThrow('session ended');
    await expect(pending).rejects.toThrow('session ended');
    expect(signals[0]?.aborted).toBe(true);
    // The next session is not held up by the write that may never finish.
    await batcher.add(records(1), new AbortController().signal);
    expect(calls).toEqual([[1], [1]]);
    releaseStale();
  });
});
