import type { DataRecord } from '@dataflow/contracts';
import { Outbox } from './outbox';

function rec(seq: number): DataRecord {
  return { source: 'generator-1', seq, timestamp: 1_732_500_000_000 + seq, randomValue: 0, hashValue: '00' };
}

function filled(from: number, to: number): Outbox {
  const outbox = new Outbox();
  for (let seq = from; seq <= to; seq++) outbox.push(rec(seq));
  return outbox;
}

function seqs(records: readonly DataRecord[]): number[] {
  return records.map((r) => r.seq);
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

describe('Outbox', () => {
  it('starts empty', () => {
    const outbox = new Outbox();
    expect(outbox.size).toBe(0);
    expect(outbox.unsentCount).toBe(0);
    expect(outbox.takeUnsent(10)).toEqual([]);
    expect(outbox.ack([1])).toBe(0);
    expect(outbox.rewind()).toBe(0);
  });

  it('takes unsent records in push order, at most max at a time, each once', () => {
    const outbox = filled(1, 5);
    expect(outbox.unsentCount).toBe(5);
    expect(seqs(outbox.takeUnsent(2))).toEqual([1, 2]);
    expect(outbox.unsentCount).toBe(3);
    expect(seqs(outbox.takeUnsent(10))).toEqual([3, 4, 5]);
    expect(outbox.takeUnsent(10)).toEqual([]);
    expect(outbox.unsentCount).toBe(0);
    // Taking does not acknowledge.
    expect(outbox.size).toBe(5);
    outbox.push(rec(6));
    expect(seqs(outbox.takeUnsent(10))).toEqual([6]);
  });

  it('takeUnsent(0) takes nothing', () => {
    const outbox = filled(1, 3);
    expect(outbox.takeUnsent(0)).toEqual([]);
    expect(outbox.unsentCount).toBe(3);
  });

  it('acknowledges in order and counts only records still unacknowledged', () => {
    const outbox = filled(1, 5);
    outbox.takeUnsent(5);
    expect(outbox.ack([1, 2])).toBe(2);
    expect(outbox.size).toBe(3);
    expect(outbox.ack([1, 2])).toBe(0);
    expect(outbox.ack([3, 3, 3])).toBe(1);
    expect(outbox.size).toBe(2);
  });

  it('ignores acknowledgements for seqs it never held', () => {
    const outbox = filled(10, 12);
    outbox.takeUnsent(3);
    expect(outbox.ack([9, 13, 0, -1, 1000])).toBe(0);
    expect(outbox.size).toBe(3);
  });

  it('acknowledges out of order; size counts every acknowledgement at once', () => {
    const outbox = filled(1, 6);
    outbox.takeUnsent(6);
    expect(outbox.ack([4, 2])).toBe(2);
    expect(outbox.size).toBe(4);
    expect(outbox.ack([4])).toBe(0);
    expect(outbox.ack([1])).toBe(1);
    expect(outbox.size).toBe(3);
    expect(outbox.ack([3])).toBe(1);
    expect(outbox.size).toBe(2);
    expect(outbox.ack([6, 5])).toBe(2);
    expect(outbox.size).toBe(0);
  });

  it('rewind makes every unacknowledged sent record unsent again, in order', () => {
    const outbox = filled(1, 5);
    outbox.takeUnsent(5);
    outbox.ack([1]);
    outbox.rewind();
    expect(outbox.unsentCount).toBe(4);
    expect(seqs(outbox.takeUnsent(10))).toEqual([2, 3, 4, 5]);
    expect(outbox.size).toBe(4);
  });

  it('rewind keeps never-sent records after the resent ones', () => {
    const outbox = filled(1, 6);
    outbox.takeUnsent(3);
    outbox.rewind();
    expect(seqs(outbox.takeUnsent(2))).toEqual([1, 2]);
    expect(seqs(outbox.takeUnsent(10))).toEqual([3, 4, 5, 6]);
  });

  it('rewind does not resend records acknowledged out of order', () => {
    const outbox = filled(1, 5);
    outbox.takeUnsent(5);
    outbox.ack([2, 4]);
    outbox.rewind();
    expect(seqs(outbox.takeUnsent(10))).toEqual([1, 3, 5]);
    expect(outbox.size).toBe(3);
    outbox.ack([1, 3, 5]);
    expect(outbox.size).toBe(0);
  });

  it('rewind returns how many records will be resent, not counting ones acknowledged out of order', () => {
    const outbox = filled(1, 5);
    outbox.takeUnsent(5);
    outbox.ack([2, 4]);
    // Records 1, 3 and 5 are resent on the next connection; 2 and 4 never are.
    expect(outbox.rewind()).toBe(3);
  });

  it('rewind returns the number of sent, unacknowledged records', () => {
    const outbox = filled(1, 10);
    outbox.takeUnsent(6);
    outbox.ack([1, 2]);
    expect(outbox.rewind()).toBe(4);
    expect(outbox.rewind()).toBe(0);
  });

  it('an acknowledgement of a record not sent yet (e.g. a refusal) keeps it from being sent', () => {
    const outbox = filled(1, 4);
    outbox.takeUnsent(1);
    expect(outbox.ack([3])).toBe(1);
    expect(outbox.size).toBe(3);
    expect(seqs(outbox.takeUnsent(10))).toEqual([2, 4]);
  });

  it('acknowledging everything sent moves on; later pushes are still taken', () => {
    const outbox = filled(1, 3);
    outbox.takeUnsent(3);
    outbox.ack([1, 2, 3]);
    expect(outbox.size).toBe(0);
    expect(outbox.rewind()).toBe(0);
    outbox.push(rec(4));
    expect(outbox.size).toBe(1);
    expect(seqs(outbox.takeUnsent(10))).toEqual([4]);
  });

  it('acknowledging a record that was never taken moves the send position past it', () => {
    const outbox = filled(1, 3);
    outbox.ack([1, 2]);
    expect(outbox.unsentCount).toBe(1);
    expect(seqs(outbox.takeUnsent(10))).toEqual([3]);
  });

  describe('compaction (more than 4096 acknowledged)', () => {
    it('keeps takeUnsent, ack, rewind and size right while 10,000 records go through in chunks', () => {
      const outbox = filled(1, 10_000);
      const taken: number[] = [];
      for (let chunk = 0; chunk < 7; chunk++) taken.push(...seqs(outbox.takeUnsent(1000)));
      expect(taken).toEqual(range(1, 7000));

      for (let from = 1; from <= 6000; from += 500) {
        expect(outbox.ack(range(from, from + 499))).toBe(500);
        expect(outbox.size).toBe(10_000 - (from + 499));
      }
      // Compaction must have dropped the acknowledged prefix from memory.
      expect((outbox as unknown as { items: DataRecord[] }).items.length).toBeLessThan(10_000);

      expect(outbox.unsentCount).toBe(3000);
      expect(seqs(outbox.takeUnsent(10))).toEqual(range(7001, 7010));
      expect(outbox.rewind()).toBe(1010);
      expect(seqs(outbox.takeUnsent(5))).toEqual(range(6001, 6005));
      expect(seqs(outbox.takeUnsent(10_000))).toEqual(range(6006, 10_000));
      outbox.push(rec(10_001));
      expect(seqs(outbox.takeUnsent(10))).toEqual([10_001]);
      expect(outbox.size).toBe(4001);
    });

    it('keeps out-of-order acknowledgements across a compaction', () => {
      const outbox = filled(1, 10_000);
      outbox.takeUnsent(10_000);
      expect(outbox.ack([8000, 9000])).toBe(2);
      expect(outbox.ack(range(1, 7000))).toBe(7000);
      expect(outbox.size).toBe(2998);
      outbox.rewind();
      const resent = seqs(outbox.takeUnsent(10_000));
      expect(resent).toHaveLength(2998);
      expect(resent[0]).toBe(7001);
      expect(resent).not.toContain(8000);
      expect(resent).not.toContain(9000);
      expect(outbox.ack(range(7001, 10_000))).toBe(2998);
      expect(outbox.size).toBe(0);
    });

    it('survives many compactions in a long-running stream', () => {
      const outbox = new Outbox();
      let next = 1;
      let acked = 0;
      for (let round = 0; round < 30; round++) {
        for (let i = 0; i < 1000; i++) outbox.push(rec(next++));
        const batch = seqs(outbox.takeUnsent(1000));
        expect(batch[0]).toBe(acked + 1);
        expect(outbox.ack(batch)).toBe(1000);
        acked += 1000;
        expect(outbox.size).toBe(0);
      }
      expect((outbox as unknown as { items: DataRecord[] }).items.length).toBeLessThanOrEqual(8192);
    });
  });
});
