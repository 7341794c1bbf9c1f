import { validateRecord, type RecordRejection } from '@dataflow/contracts';
import { FrameRefusals } from './frame-refusals';

function rejection(value: unknown): RecordRejection {
  const result = validateRecord(value);
  if (result.ok) throw new Error('expected a rejection');
  return result;
}

const record = (seq: number, change: Record<string, unknown> = {}): Record<string, unknown> => ({
  source: 's',
  seq,
  timestamp: 1_732_500_000_000,
  randomValue: 42,
  hashValue: '00',
  ...change,
});

describe('FrameRefusals', () => {
  it('has no payload while nothing was refused', () => {
    expect(new FrameRefusals().payload()).toBeUndefined();
  });

  it("answers with the first refusal's contract fields plus count and the grouped list", () => {
    const refusals = new FrameRefusals();
    refusals.add(rejection(record(4)));
    refusals.add(rejection(record(5, { randomValue: 101 })));
    refusals.add(rejection(record(6, { extra: true })));
    refusals.add(rejection(record(7, { hashValue: 'ZZ' })));
    const payload = refusals.payload();
    expect(payload).toMatchObject({ code: 'HASH_MISMATCH', source: 's', seq: 4, count: 4 });
    expect(typeof payload?.message).toBe('string');
    expect(payload?.refused).toEqual([
      { code: 'HASH_MISMATCH', source: 's', seqs: [4] },
      { code: 'INVALID_RECORD', source: 's', seqs: [5, 6, 7] },
    ]);
    expect(refusals.counts).toEqual(
      new Map([
        ['HASH_MISMATCH', 1],
        ['INVALID_RECORD', 3],
      ]),
    );
  });

  it('counts records without a usable source or seq but cannot list them', () => {
    const refusals = new FrameRefusals();
    refusals.add(rejection(1));
    refusals.add(rejection(record(0)));
    refusals.add(rejection(record(9, { source: 'not valid!' })));
    const payload = refusals.payload();
    expect(payload).toMatchObject({ code: 'INVALID_RECORD', count: 3, refused: [] });
    expect(payload).not.toHaveProperty('source');
    expect(payload).not.toHaveProperty('seq');
  });

  it('keeps sources apart', () => {
    const refusals = new FrameRefusals();
    refusals.add(rejection(record(1, { randomValue: -1 })));
    refusals.add(rejection(record(1, { source: 't', randomValue: -1 })));
    expect(refusals.payload()?.refused).toEqual([
      { code: 'INVALID_RECORD', source: 's', seqs: [1] },
      { code: 'INVALID_RECORD', source: 't', seqs: [1] },
    ]);
  });

  it('stays smaller than the refused records it answers for', () => {
    const refusals = new FrameRefusals();
    const frame = Array.from({ length: 1000 }, (_, i) => record(i + 1, { randomValue: 500 }));
    for (const item of frame) refusals.add(rejection(item));
    expect(JSON.stringify(refusals.payload()).length).toBeLessThan(JSON.stringify(frame).length / 5);
  });
});
