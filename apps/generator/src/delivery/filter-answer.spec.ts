import { parseFilterAnswer } from './filter-answer';

const parse = (value: unknown): ReturnType<typeof parseFilterAnswer> =>
  parseFilterAnswer(typeof value === 'string' ? value : JSON.stringify(value), 'g1');

describe('parseFilterAnswer', () => {
  it('reads an ack', () => {
    expect(parse({ event: 'ack', data: { source: 'g1', seqs: [1, 2] } })).toEqual({
      kind: 'ack',
      source: 'g1',
      seqs: [1, 2],
    });
  });

  it('reads a single refusal (the contract fields only)', () => {
    expect(parse({ event: 'error', data: { code: 'HASH_MISMATCH', message: 'm', source: 'g1', seq: 4 } })).toEqual({
      kind: 'error',
      code: 'HASH_MISMATCH',
      message: 'm',
      refused: [{ code: 'HASH_MISMATCH', seqs: [4] }],
    });
  });

  it('reads an aggregated refusal, keeping only its own source', () => {
    const answer = parse({
      event: 'error',
      data: {
        code: 'HASH_MISMATCH',
        message: 'm',
        source: 'g1',
        seq: 4,
        count: 5,
        refused: [
          { code: 'HASH_MISMATCH', source: 'g1', seqs: [4] },
          { code: 'INVALID_RECORD', source: 'other', seqs: [5] },
          { code: 'INVALID_RECORD', source: 'g1', seqs: [6, 7] },
        ],
      },
    });
    expect(answer).toEqual({
      kind: 'error',
      code: 'HASH_MISMATCH',
      message: 'm',
      refused: [
        { code: 'HASH_MISMATCH', seqs: [4] },
        { code: 'INVALID_RECORD', seqs: [6, 7] },
      ],
    });
  });

  it('reads a refusal of a whole frame as refusing no record', () => {
    expect(parse({ event: 'error', data: { code: 'RATE_LIMITED', message: 'slow down' } })).toEqual({
      kind: 'error',
      code: 'RATE_LIMITED',
      message: 'slow down',
      refused: [],
    });
  });

  it.each<[string, unknown]>([
    ['not JSON', '{nope'],
    ['null', 'null'],
    ['a number', '42'],
    ['an array', []],
    ['ack without data', { event: 'ack' }],
    ['ack with null data', { event: 'ack', data: null }],
    ['ack without seqs', { event: 'ack', data: { source: 'g1' } }],
    ['ack with string seqs', { event: 'ack', data: { source: 'g1', seqs: ['1'] } }],
    ['ack with a fractional seq', { event: 'ack', data: { source: 'g1', seqs: [1.5] } }],
    ['error without data', { event: 'error' }],
    ['error without a code', { event: 'error', data: { message: 'x' } }],
    ['error with a string seq', { event: 'error', data: { code: 'X', seq: '4' } }],
    ['error with refused not a list', { event: 'error', data: { code: 'X', refused: {} } }],
    ['error with a bad refused entry', { event: 'error', data: { code: 'X', refused: [{ code: 'X' }] } }],
    ['an unknown event', { event: 'hello', data: {} }],
  ])('calls %s malformed instead of throwing', (_, value) => {
    expect(parse(value).kind).toBe('malformed');
  });
});
