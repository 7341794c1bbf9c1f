import { computeHash, MAX_RECORDS_PER_FRAME } from '@dataflow/contracts';
import { envelopeProblem } from './envelope';

const record = {
  source: 'generator-1',
  seq: 1,
  timestamp: 1732500000000,
  randomValue: 42,
  hashValue: computeHash(1732500000000, 42),
};

describe('envelopeProblem', () => {
  it.each<[string, unknown]>([
    ['null', null],
    ['a number', 1],
    ['a string', 'records'],
    ['a boolean', false],
    ['an array', [{ event: 'records', data: [record] }]],
  ])('refuses %s as not an object', (_label, frame) => {
    expect(envelopeProblem(frame)).toBe('frame must be a JSON object');
  });

  it.each<[string, unknown]>([
    ['a missing event', { data: [record] }],
    ['another event', { event: 'ack', data: [record] }],
    ['an event of the wrong case', { event: 'Records', data: [record] }],
    ['a non-string event', { event: 1, data: [record] }],
  ])('refuses %s', (_label, frame) => {
    expect(envelopeProblem(frame)).toBe('"event" must be "records"');
  });

  it.each<[string, unknown]>([
    ['missing data', { event: 'records' }],
    ['data as one record', { event: 'records', data: record }],
    ['data null', { event: 'records', data: null }],
    ['data as a string', { event: 'records', data: '[]' }],
  ])('refuses %s', (_label, frame) => {
    expect(envelopeProblem(frame)).toBe('"data" must be an array of records');
  });

  it('refuses an empty batch', () => {
    expect(envelopeProblem({ event: 'records', data: [] })).toBe('"data" must hold at least one record');
  });

  it('refuses more than 1000 records, saying how many', () => {
    const data = Array.from({ length: MAX_RECORDS_PER_FRAME + 1 }, () => record);
    const problem = envelopeProblem({ event: 'records', data });
    expect(problem).toContain('1001');
    expect(problem).toContain('1000');
  });

  it('accepts exactly 1000 records and exactly one', () => {
    expect(
      envelopeProblem({ event: 'records', data: Array.from({ length: MAX_RECORDS_PER_FRAME }, () => record) }),
    ).toBeUndefined();
    expect(envelopeProblem({ event: 'records', data: [record] })).toBeUndefined();
  });

  it('refuses an extra envelope field, naming it (cut to 32 characters)', () => {
    expect(envelopeProblem({ event: 'records', data: [record], id: 7 })).toBe('unexpected field "id" in the envelope');
    const problem = envelopeProblem({ event: 'records', data: [record], ['k'.repeat(100)]: 1 });
    expect(problem).toContain('k'.repeat(32));
    expect(problem).not.toContain('k'.repeat(33));
  });

  it('accepts a valid envelope whatever the records hold: records are validated later, one by one', () => {
    expect(envelopeProblem({ event: 'records', data: [record, { junk: true }, null] })).toBeUndefined();
  });

  it('accepts a parsed JSON frame', () => {
    expect(envelopeProblem(JSON.parse(JSON.stringify({ event: 'records', data: [record] })))).toBeUndefined();
  });
});
