import type { DataRecord } from '@dataflow/contracts';
import type { RecordSender } from './record-sender';
import type { RouteDecision } from '../routing/record-router';
import { SourcePart, SourcePipeline } from './source-pipeline';

const TO_FILE: RouteDecision = { rule: 'default', route: 'file', sinks: ['file'], version: 'test' };

type FakeConnection = RecordSender & { open: boolean; name: string };

function connection(name: string, open = true): FakeConnection {
  return { open, name } as unknown as FakeConnection;
}

function rec(seq: number): DataRecord {
  return { source: 's', seq, timestamp: 1_732_500_000_000 + seq, randomValue: 0, hashValue: '00' };
}

function part(conn: RecordSender, recordSeqs: number[], ackSeqs: number[] = recordSeqs): SourcePart {
  return {
    connection: conn,
    records: recordSeqs.map(rec),
    decisions: recordSeqs.map(() => TO_FILE),
    ackSeqs,
    frames: [],
  };
}

interface Call {
  readonly source: string;
  readonly connection: string;
  readonly seqs: number[];
  readonly ackSeqs: number[];
  finish(): void;
}

/** A hand-off that records its calls and finishes only when told to; it also checks seriality. */
function controlledHandOff() {
  const calls: Call[] = [];
  let active = 0;
  let maxActive = 0;
  const handOff = (source: string, p: SourcePart): Promise<void> => {
    active++;
    maxActive = Math.max(maxActive, active);
    return new Promise<void>((resolve) => {
      calls.push({
        source,
        connection: (p.connection as FakeConnection).name,
        seqs: p.records.map((r) => r.seq),
        ackSeqs: [...p.ackSeqs],
        finish: () => {
          active--;
          resolve();
        },
      });
    });
  };
  return { calls, handOff, maxActive: () => maxActive };
}

/** A hand-off that finishes by itself after a few turns of the event loop. */
function immediateHandOff() {
  const calls: { connection: string; seqs: number[]; ackSeqs: number[] }[] = [];
  let active = 0;
  let maxActive = 0;
  const handOff = async (_source: string, p: SourcePart): Promise<void> => {
    active++;
    maxActive = Math.max(maxActive, active);
    calls.push({
      connection: (p.connection as FakeConnection).name,
      seqs: p.records.map((r) => r.seq),
      ackSeqs: [...p.ackSeqs],
    });
    await new Promise((resolve) => setImmediate(resolve));
    active--;
  };
  return { calls, handOff, maxActive: () => maxActive };
}

async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

async function waitForCalls(calls: readonly unknown[], count: number): Promise<void> {
  for (let i = 0; i < 1000 && calls.length < count; i++) await new Promise((resolve) => setImmediate(resolve));
  expect(calls.length).toBeGreaterThanOrEqual(count);
}

describe('SourcePipeline', () => {
  it('hands the first part off at once, passing the source', async () => {
    const { calls, handOff } = controlledHandOff();
    const pipeline = new SourcePipeline('gen-1', handOff, 100);
    pipeline.enqueue(part(connection('a'), [1, 2]));
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ source: 'gen-1', connection: 'a', seqs: [1, 2], ackSeqs: [1, 2] });
    calls[0]?.finish();
    await pipeline.idle();
  });

  it('hands parts off strictly one at a time, in enqueue order', async () => {
    const { calls, handOff, maxActive } = controlledHandOff();
    const pipeline = new SourcePipeline('s', handOff, 100);
    const a = connection('a');
    const b = connection('b');
    pipeline.enqueue(part(a, [1]));
    pipeline.enqueue(part(b, [2]));
    pipeline.enqueue(part(a, [3]));
    pipeline.enqueue(part(b, [4]));
    for (let i = 0; i < 4; i++) {
      await waitForCalls(calls, i + 1);
      await flush();
      // The next hand-off does not start before this one finishes.
      expect(calls).toHaveLength(i + 1);
      calls[i]?.finish();
    }
    await pipeline.idle();
    expect(calls.map((c) => c.seqs)).toEqual([[1], [2], [3], [4]]);
    expect(maxActive()).toBe(1);
  });

  it('coalesces consecutive parts of the same connection queued behind a slow hand-off', async () => {
    const { calls, handOff } = controlledHandOff();
    const pipeline = new SourcePipeline('s', handOff, 100);
    const a = connection('a');
    pipeline.enqueue(part(a, [1, 2]));
    pipeline.enqueue(part(a, [3, 4]));
    pipeline.enqueue(part(a, [5]));
    pipeline.enqueue(part(a, [6, 7, 8]));
    expect(pipeline.queued).toBe(3);
    calls[0]?.finish();
    await waitForCalls(calls, 2);
    expect(calls[1]).toMatchObject({ seqs: [3, 4, 5, 6, 7, 8], ackSeqs: [3, 4, 5, 6, 7, 8] });
    expect(pipeline.queued).toBe(0);
    calls[1]?.finish();
    await pipeline.idle();
    expect(calls).toHaveLength(2);
  });

  it('coalesces at most maxBatch records per hand-off', async () => {
    const { calls, handOff } = controlledHandOff();
    const pipeline = new SourcePipeline('s', handOff, 5);
    const a = connection('a');
    pipeline.enqueue(part(a, [1]));
    pipeline.enqueue(part(a, [2, 3]));
    pipeline.enqueue(part(a, [4, 5, 6]));
    pipeline.enqueue(part(a, [7, 8, 9]));
    pipeline.enqueue(part(a, [10, 11]));
    calls[0]?.finish();
    await waitForCalls(calls, 2);
    expect(calls[1]?.seqs).toEqual([2, 3, 4, 5, 6]);
    calls[1]?.finish();
    await waitForCalls(calls, 3);
    expect(calls[2]?.seqs).toEqual([7, 8, 9, 10, 11]);
    calls[2]?.finish();
    await pipeline.idle();
    for (const call of calls) expect(call.seqs.length).toBeLessThanOrEqual(5);
  });

  it('hands a single part larger than maxBatch off whole', async () => {
    const { calls, handOff } = controlledHandOff();
    const pipeline = new SourcePipeline('s', handOff, 2);
    const a = connection('a');
    pipeline.enqueue(part(a, [1]));
    pipeline.enqueue(part(a, [2, 3, 4, 5]));
    pipeline.enqueue(part(a, [6]));
    calls[0]?.finish();
    await waitForCalls(calls, 2);
    expect(calls[1]?.seqs).toEqual([2, 3, 4, 5]);
    calls[1]?.finish();
    await waitForCalls(calls, 3);
    expect(calls[2]?.seqs).toEqual([6]);
    calls[2]?.finish();
    await pipeline.idle();
  });

  it('never merges parts of different connections', async () => {
    const { calls, handOff } = controlledHandOff();
    const pipeline = new SourcePipeline('s', handOff, 100);
    const a = connection('a');
    const b = connection('b');
    pipeline.enqueue(part(a, [1]));
    pipeline.enqueue(part(a, [2]));
    pipeline.enqueue(part(b, [2]));
    pipeline.enqueue(part(b, [3]));
    pipeline.enqueue(part(a, [4]));
    const expected = [
      { connection: 'a', seqs: [1] },
      { connection: 'a', seqs: [2] },
      { connection: 'b', seqs: [2, 3] },
      { connection: 'a', seqs: [4] },
    ];
    for (let i = 0; i < expected.length; i++) {
      await waitForCalls(calls, i + 1);
      expect(calls[i]).toMatchObject(expected[i] as object);
      calls[i]?.finish();
    }
    await pipeline.idle();
    expect(calls).toHaveLength(4);
  });

  it('concatenates ackSeqs (repeats included) of parts that continue in seq order', async () => {
    const { calls, handOff } = controlledHandOff();
    const pipeline = new SourcePipeline('s', handOff, 100);
    const a = connection('a');
    pipeline.enqueue(part(a, [1]));
    pipeline.enqueue(part(a, [4, 5], [4, 5, 5]));
    pipeline.enqueue(part(a, [6, 7], [6, 7, 6]));
    calls[0]?.finish();
    await waitForCalls(calls, 2);
    expect(calls[1]?.seqs).toEqual([4, 5, 6, 7]);
    expect(calls[1]?.ackSeqs).toEqual([4, 5, 5, 6, 7, 6]);
    calls[1]?.finish();
    await pipeline.idle();
    expect(calls).toHaveLength(2);
  });

  it('hands off a part that does not continue the batch in seq order on its own, after it', async () => {
    const { calls, handOff } = controlledHandOff();
    const pipeline = new SourcePipeline('s', handOff, 100);
    const a = connection('a');
    pipeline.enqueue(part(a, [1]));
    pipeline.enqueue(part(a, [4, 5], [4, 5, 5]));
    pipeline.enqueue(part(a, [5, 6], [5, 6]));
    pipeline.enqueue(part(a, [3, 7], [3, 7]));
    calls[0]?.finish();
    await waitForCalls(calls, 2);
    expect(calls[1]?.seqs).toEqual([4, 5]);
    calls[1]?.finish();
    await waitForCalls(calls, 3);
    expect(calls[2]?.seqs).toEqual([5, 6]);
    calls[2]?.finish();
    await waitForCalls(calls, 4);
    expect(calls[3]?.seqs).toEqual([3, 7]);
    expect(calls[3]?.ackSeqs).toEqual([3, 7]);
    calls[3]?.finish();
    await pipeline.idle();
  });

  it('skips parts whose connection is closed, and the ones behind them still go', async () => {
    const { calls, handOff } = immediateHandOff();
    const pipeline = new SourcePipeline('s', handOff, 100);
    const a = connection('a');
    const closed = connection('closed', false);
    pipeline.enqueue(part(closed, [1]));
    pipeline.enqueue(part(a, [2]));
    pipeline.enqueue(part(closed, [3]));
    await pipeline.idle();
    expect(calls.map((c) => c.connection)).toEqual(['a']);
  });

  it('skips queued parts of a connection that closes while they wait', async () => {
    const { calls, handOff } = controlledHandOff();
    const pipeline = new SourcePipeline('s', handOff, 100);
    const a = connection('a');
    const b = connection('b');
    pipeline.enqueue(part(a, [1]));
    pipeline.enqueue(part(a, [2]));
    pipeline.enqueue(part(b, [10]));
    a.open = false;
    calls[0]?.finish();
    await waitForCalls(calls, 2);
    expect(calls[1]).toMatchObject({ connection: 'b', seqs: [10] });
    calls[1]?.finish();
    await pipeline.idle();
    expect(calls).toHaveLength(2);
  });

  it('idle() resolves at once when nothing was enqueued', async () => {
    const pipeline = new SourcePipeline('s', immediateHandOff().handOff, 10);
    await expect(pipeline.idle()).resolves.toBeUndefined();
    expect(pipeline.queued).toBe(0);
  });

  it('idle() resolves only after every part, including ones enqueued while waiting', async () => {
    const { calls, handOff } = controlledHandOff();
    const pipeline = new SourcePipeline('s', handOff, 100);
    const a = connection('a');
    const b = connection('b');
    pipeline.enqueue(part(a, [1]));
    let idle = false;
    const done = pipeline.idle().then(() => (idle = true));
    pipeline.enqueue(part(b, [2]));
    calls[0]?.finish();
    await waitForCalls(calls, 2);
    pipeline.enqueue(part(a, [3]));
    await flush();
    expect(idle).toBe(false);
    calls[1]?.finish();
    await waitForCalls(calls, 3);
    expect(idle).toBe(false);
    calls[2]?.finish();
    await done;
    expect(idle).toBe(true);
    expect(calls.map((c) => c.seqs)).toEqual([[1], [2], [3]]);
  });

  it('does not stall when a part is enqueued while the last hand-off is finishing', async () => {
    // Enqueue at every microtask depth after the last hand-off resolves, to hit the window between
    // the loop's last check and the moment the pipeline marks itself idle.
    for (let depth = 0; depth < 12; depth++) {
      const { calls, handOff } = controlledHandOff();
      const pipeline = new SourcePipeline('s', handOff, 100);
      const a = connection('a');
      const b = connection('b');
      pipeline.enqueue(part(a, [1]));
      calls[0]?.finish();
      for (let i = 0; i < depth; i++) await Promise.resolve();
      pipeline.enqueue(part(b, [2]));
      // idle() asked now must cover the part just enqueued, whichever run of the loop takes it.
      let idled = false;
      const idle = pipeline.idle().then(() => (idled = true));
      await waitForCalls(calls, 2);
      expect({ depth, seqs: calls[1]?.seqs }).toEqual({ depth, seqs: [2] });
      await flush();
      expect({ depth, idled }).toEqual({ depth, idled: false });
      calls[1]?.finish();
      await idle;
      expect(pipeline.queued).toBe(0);
    }
  });

  it('under load: every part is handed off exactly once, in order, one at a time', async () => {
    const { calls, handOff, maxActive } = immediateHandOff();
    const pipeline = new SourcePipeline('s', handOff, 7);
    const connections = [connection('a'), connection('b')];
    let seq = 0;
    const expectedAcks: number[] = [];
    for (let round = 0; round < 50; round++) {
      const conn = connections[Math.floor(round / 5) % 2] as FakeConnection;
      const seqs = [++seq, ++seq, ++seq];
      expectedAcks.push(...seqs);
      pipeline.enqueue(part(conn, seqs));
      if (round % 3 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    await pipeline.idle();
    expect(calls.flatMap((c) => c.ackSeqs)).toEqual(expectedAcks);
    expect(calls.flatMap((c) => c.seqs)).toEqual(expectedAcks);
    expect(maxActive()).toBe(1);
    expect(calls.length).toBeLessThan(50);
  });
});
