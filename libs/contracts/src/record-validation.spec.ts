import { computeHash, DataRecord, MAX_TIMESTAMP, RECORD_FIELDS } from './data-record';
import { RecordRejection, validateRecord } from './record-validation';

const TIMESTAMP = 1732500000000;

function valid(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const base: Record<string, unknown> = {
    source: 'generator-1',
    seq: 7,
    timestamp: TIMESTAMP,
    randomValue: 42,
    hashValue: computeHash(TIMESTAMP, 42),
  };
  const merged = { ...base, ...overrides };
  // Keep the hash right for whatever timestamp/randomValue the case uses, unless it sets its own.
  if (!('hashValue' in overrides) && typeof merged.timestamp === 'number' && typeof merged.randomValue === 'number') {
    merged.hashValue = computeHash(merged.timestamp, merged.randomValue);
  }
  return merged;
}

function rejection(value: unknown): RecordRejection {
  const result = validateRecord(value);
  if (result.ok) throw new Error(`expected a rejection, got ${JSON.stringify(result.record)}`);
  return result;
}

function without(field: string): Record<string, unknown> {
  const record = valid();
  delete record[field];
  return record;
}

describe('validateRecord: accepted records', () => {
  it('accepts a valid record and returns its five fields', () => {
    const input = valid();
    const result = validateRecord(input);
    expect(result).toEqual({ ok: true, record: input });
  });

  it('returns a fresh object with exactly the five fields in contract order', () => {
    // Same fields, scrambled key order.
    const input = {
      hashValue: computeHash(TIMESTAMP, 42),
      randomValue: 42,
      seq: 7,
      timestamp: TIMESTAMP,
      source: 'generator-1',
    };
    const result = validateRecord(input);
    if (!result.ok) throw new Error(result.message);
    expect(result.record).not.toBe(input);
    expect(Object.keys(result.record)).toEqual([...RECORD_FIELDS]);
    expect(Object.getPrototypeOf(result.record)).toBe(Object.prototype);
    input.seq = 99;
    expect(result.record.seq).toBe(7);
  });

  it('accepts a null-prototype object and still returns a plain object', () => {
    const input = Object.assign(Object.create(null) as Record<string, unknown>, valid());
    const result = validateRecord(input);
    if (!result.ok) throw new Error(result.message);
    expect(Object.getPrototypeOf(result.record)).toBe(Object.prototype);
    expect(result.record).toEqual(valid());
  });

  it.each([
    ['randomValue 0', { randomValue: 0 }],
    ['randomValue 100', { randomValue: 100 }],
    ['timestamp 0', { timestamp: 0 }],
    ['timestamp MAX_TIMESTAMP', { timestamp: MAX_TIMESTAMP }],
    ['seq 1', { seq: 1 }],
    ['seq MAX_SAFE_INTEGER', { seq: Number.MAX_SAFE_INTEGER }],
    ['source of 64 characters', { source: 'a'.repeat(64) }],
    ['source of one character', { source: 'x' }],
    ['source with . _ -', { source: 'A.b_c-9' }],
  ])('accepts the boundary: %s', (_label, overrides) => {
    const result = validateRecord(valid(overrides));
    expect(result.ok).toBe(true);
  });
});

describe('validateRecord: rejections', () => {
  it.each([
    ['an array', [valid()]],
    ['null', null],
    ['undefined', undefined],
    ['a number', 42],
    ['a string', '{"source":"generator-1"}'],
    ['a boolean', true],
  ])('rejects %s as record.not_object', (_label, value) => {
    const r = rejection(value);
    expect(r).toMatchObject({ ok: false, code: 'INVALID_RECORD', reason: 'record.not_object' });
    expect(r.source).toBeUndefined();
    expect(r.seq).toBeUndefined();
  });

  it('rejects an extra field, naming it, and reports the valid source and seq', () => {
    const r = rejection(valid({ note: 'hi' }));
    expect(r).toMatchObject({ code: 'INVALID_RECORD', reason: 'record.extra_field', source: 'generator-1', seq: 7 });
    expect(r.message).toContain('"note"');
  });

  it('truncates a very long extra field name in the message', () => {
    const long = 'x'.repeat(500);
    const r = rejection(valid({ [long]: 1 }));
    expect(r.reason).toBe('record.extra_field');
    expect(r.message).not.toContain(long);
    expect(r.message.length).toBeLessThan(100);
  });

  it('rejects an extra field even when a required one is missing (six keys minus one)', () => {
    const record = without('seq');
    record.extra = 1;
    expect(rejection(record).reason).toBe('record.extra_field');
  });

  it.each(RECORD_FIELDS.map((field) => [field]))('rejects a record missing %s', (field) => {
    const r = rejection(without(field));
    expect(r).toMatchObject({ code: 'INVALID_RECORD', reason: `${field}.missing` });
    expect(r.message).toContain(field);
  });

  it('reports the first missing field in contract order when several are missing', () => {
    expect(rejection({ source: 'g', hashValue: 'ab' }).reason).toBe('seq.missing');
    expect(rejection({}).reason).toBe('source.missing');
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['source as number', { source: 12 }, 'source.not_string'],
    ['source null', { source: null }, 'source.not_string'],
    ['source empty', { source: '' }, 'source.pattern'],
    ['source of 65 characters', { source: 'a'.repeat(65) }, 'source.pattern'],
    ['source with a space', { source: 'gen 1' }, 'source.pattern'],
    ['source with a slash', { source: 'gen/1' }, 'source.pattern'],
    ['source with non-ASCII', { source: 'gén-1' }, 'source.pattern'],
    ['source with a newline', { source: 'gen-1\n' }, 'source.pattern'],
    ['seq as string', { seq: '7' }, 'seq.not_integer'],
    ['seq as float', { seq: 7.5 }, 'seq.not_integer'],
    ['seq NaN', { seq: Number.NaN }, 'seq.not_integer'],
    ['seq Infinity', { seq: Number.POSITIVE_INFINITY }, 'seq.not_integer'],
    ['seq beyond MAX_SAFE_INTEGER', { seq: 2 ** 53 }, 'seq.not_integer'],
    ['seq null', { seq: null }, 'seq.not_integer'],
    ['seq 0', { seq: 0 }, 'seq.range'],
    ['seq -1', { seq: -1 }, 'seq.range'],
    ['timestamp as string', { timestamp: String(TIMESTAMP) }, 'timestamp.not_integer'],
    ['timestamp as float', { timestamp: TIMESTAMP + 0.5 }, 'timestamp.not_integer'],
    ['timestamp NaN', { timestamp: Number.NaN }, 'timestamp.not_integer'],
    ['timestamp -1', { timestamp: -1 }, 'timestamp.range'],
    ['timestamp MAX_TIMESTAMP + 1', { timestamp: MAX_TIMESTAMP + 1 }, 'timestamp.range'],
    ['randomValue as string', { randomValue: '42' }, 'randomValue.not_integer'],
    ['randomValue as float', { randomValue: 42.5 }, 'randomValue.not_integer'],
    ['randomValue NaN', { randomValue: Number.NaN }, 'randomValue.not_integer'],
    ['randomValue -Infinity', { randomValue: Number.NEGATIVE_INFINITY }, 'randomValue.not_integer'],
    ['randomValue true', { randomValue: true }, 'randomValue.not_integer'],
    ['randomValue 101', { randomValue: 101 }, 'randomValue.range'],
    ['randomValue -1', { randomValue: -1 }, 'randomValue.range'],
    ['hashValue uppercase', { hashValue: 'AB' }, 'hashValue.format'],
    ['hashValue of 3 characters', { hashValue: 'abc' }, 'hashValue.format'],
    ['hashValue of 1 character', { hashValue: 'a' }, 'hashValue.format'],
    ['hashValue not hex', { hashValue: 'zz' }, 'hashValue.format'],
    ['hashValue as number', { hashValue: 42 }, 'hashValue.format'],
    ['hashValue null', { hashValue: null }, 'hashValue.format'],
  ])('rejects %s as INVALID_RECORD (%s)', (_label, overrides, reason) => {
    const r = rejection(valid(overrides));
    expect(r.code).toBe('INVALID_RECORD');
    expect(r.reason).toBe(reason);
    expect(r.message.length).toBeGreaterThan(0);
  });

  it('rejects a hash that does not match with HASH_MISMATCH and reports source and seq', () => {
    const right = computeHash(TIMESTAMP, 42);
    const wrong = right === '00' ? '01' : '00';
    const r = rejection(valid({ hashValue: wrong }));
    const { message, ...rest } = r;
    expect(rest).toEqual({
      ok: false,
      code: 'HASH_MISMATCH',
      reason: 'hashValue.mismatch',
      source: 'generator-1',
      seq: 7,
    });
    expect(message).toContain('hashValue');
  });

  it('rejects the hash of another randomValue for the same timestamp', () => {
    const own = computeHash(TIMESTAMP, 42);
    const other = Array.from({ length: 101 }, (_, v) => computeHash(TIMESTAMP, v)).find((hash) => hash !== own);
    expect(other).toBeDefined();
    expect(rejection(valid({ hashValue: other })).code).toBe('HASH_MISMATCH');
  });

  it('never echoes a hostile value in the message', () => {
    const hostile = '<script>'.repeat(20);
    const r = rejection(valid({ source: hostile }));
    expect(r.message).not.toContain('<script>');
  });
});

describe('validateRecord: shape errors win over the hash', () => {
  const wrongHash = computeHash(TIMESTAMP, 42) === '00' ? '01' : '00';

  it.each<[string, Record<string, unknown>, string]>([
    ['extra field', { hashValue: wrongHash, extra: true }, 'record.extra_field'],
    ['randomValue out of range', { hashValue: wrongHash, randomValue: 101 }, 'randomValue.range'],
    ['bad source', { hashValue: wrongHash, source: '' }, 'source.pattern'],
    ['seq 0', { hashValue: wrongHash, seq: 0 }, 'seq.range'],
    ['timestamp negative', { hashValue: wrongHash, timestamp: -5 }, 'timestamp.range'],
    ['uppercase hash', { hashValue: 'FF' }, 'hashValue.format'],
  ])('%s with a wrong hash is INVALID_RECORD', (_label, overrides, reason) => {
    const r = rejection(valid(overrides));
    expect(r.code).toBe('INVALID_RECORD');
    expect(r.reason).toBe(reason);
  });
});

describe('validateRecord: source and seq in rejections', () => {
  it('reports both when both are valid', () => {
    expect(rejection(valid({ randomValue: 101 }))).toMatchObject({ source: 'generator-1', seq: 7 });
  });

  it('reports only the source when seq is invalid', () => {
    const r = rejection(valid({ seq: 0 }));
    expect(r.source).toBe('generator-1');
    expect('seq' in r).toBe(false);
  });

  it('reports only the seq when source is invalid', () => {
    const r = rejection(valid({ source: 'bad source' }));
    expect(r.seq).toBe(7);
    expect('source' in r).toBe(false);
  });

  it('reports neither when neither is valid', () => {
    const r = rejection(valid({ source: 5, seq: '7' }));
    expect('source' in r).toBe(false);
    expect('seq' in r).toBe(false);
  });

  it('reports source and seq for a record missing another field', () => {
    expect(rejection(without('hashValue'))).toMatchObject({
      reason: 'hashValue.missing',
      source: 'generator-1',
      seq: 7,
    });
  });
});

describe('validateRecord: JSON round trip', () => {
  it('accepts what JSON.parse gives back for a valid record and refuses a "__proto__" key', () => {
    const record: DataRecord = valid() as unknown as DataRecord;
    expect(validateRecord(JSON.parse(JSON.stringify(record))).ok).toBe(true);
    const withProto = JSON.parse(JSON.stringify(record).replace('{', '{"__proto__":{"x":1},')) as unknown;
    expect(rejection(withProto).reason).toBe('record.extra_field');
  });
});
