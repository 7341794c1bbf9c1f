import { computeHash, DataRecord, RECORDS_PATTERN } from '@dataflow/contracts';
import {
  decodeRecordsMessage,
  DecodedMessage,
  MAX_MESSAGE_BYTES,
  MAX_RECORDS_PER_MESSAGE,
} from './records-message.codec';
import { prng } from '../../../../test/support/prng';

function record(seq: number, randomValue = 95, source = 'generator-1'): DataRecord {
  const timestamp = 1_732_500_000_000 + seq;
  return { source, seq, timestamp, randomValue, hashValue: computeHash(timestamp, randomValue) };
}

function message(body: unknown): Buffer {
  return Buffer.from(JSON.stringify(body), 'utf8');
}

function failure(decoded: DecodedMessage): { reason: string; detail: string } {
  if (decoded.ok) throw new Error(`expected a failure, got ${decoded.records.length} records`);
  return decoded;
}

const REASONS = [
  'too_large',
  'invalid_json',
  'not_a_nest_packet',
  'unknown_pattern',
  'empty_batch',
  'too_many_records',
  'invalid_record',
  'hash_mismatch',
];

describe('decodeRecordsMessage: success', () => {
  it('decodes a single record', () => {
    const one = record(1);
    expect(decodeRecordsMessage(message({ pattern: RECORDS_PATTERN, data: one }))).toEqual({
      ok: true,
      records: [one],
    });
  });

  it('decodes an array of records, keeping their order', () => {
    const batch = [record(3), record(4), record(5)];
    const decoded = decodeRecordsMessage(message({ pattern: 'records.high', data: batch }));
    expect(decoded).toEqual({ ok: true, records: batch });
  });

  it('returns fresh records with exactly the five fields', () => {
    const decoded = decodeRecordsMessage(message({ pattern: RECORDS_PATTERN, data: [record(1)] }));
    if (!decoded.ok) throw new Error(decoded.detail);
    expect(Object.keys(decoded.records[0] as DataRecord)).toEqual([
      'source',
      'seq',
      'timestamp',
      'randomValue',
      'hashValue',
    ]);
  });

  it('accepts MAX_RECORDS_PER_MESSAGE records', () => {
    const batch = Array.from({ length: MAX_RECORDS_PER_MESSAGE }, (_, i) => record(i + 1));
    const decoded = decodeRecordsMessage(message({ pattern: RECORDS_PATTERN, data: batch }));
    expect(decoded.ok).toBe(true);
    if (decoded.ok) expect(decoded.records).toHaveLength(MAX_RECORDS_PER_MESSAGE);
  });

  it('tolerates whitespace and a BOM-free UTF-8 body with extra packet fields (Nest adds "id" to requests)', () => {
    const body = Buffer.from(`  {"pattern":"records.high","id":"x","data":${JSON.stringify(record(9))}}\n`, 'utf8');
    expect(decodeRecordsMessage(body)).toEqual({ ok: true, records: [record(9)] });
  });
});

describe('decodeRecordsMessage: failures', () => {
  it('too_large: refuses a body above MAX_MESSAGE_BYTES unread', () => {
    const body = Buffer.alloc(MAX_MESSAGE_BYTES + 1, 0x20);
    const result = failure(decodeRecordsMessage(body));
    expect(result.reason).toBe('too_large');
    expect(result.detail).toContain(String(MAX_MESSAGE_BYTES + 1));
  });

  it('a body of exactly MAX_MESSAGE_BYTES is parsed, not refused as too large', () => {
    const body = Buffer.alloc(MAX_MESSAGE_BYTES, 0x20);
    expect(failure(decodeRecordsMessage(body)).reason).toBe('invalid_json');
  });

  it.each([
    ['empty body', ''],
    ['truncated JSON', '{"pattern":"records.high","data":{'],
    ['not JSON', 'hello'],
    ['single quotes', "{'pattern':'records.high'}"],
  ])('invalid_json: %s', (_label, text) => {
    expect(failure(decodeRecordsMessage(Buffer.from(text, 'utf8'))).reason).toBe('invalid_json');
  });

  it.each<[string, unknown]>([
    ['an array body', [{ pattern: RECORDS_PATTERN, data: record(1) }]],
    ['null', null],
    ['a string', 'records.high'],
    ['a number', 5],
    ['missing data', { pattern: RECORDS_PATTERN }],
    ['missing pattern', { data: record(1) }],
    ['a non-string pattern', { pattern: 5, data: record(1) }],
    ['a null pattern', { pattern: null, data: record(1) }],
  ])('not_a_nest_packet: %s', (_label, body) => {
    expect(failure(decodeRecordsMessage(message(body))).reason).toBe('not_a_nest_packet');
  });

  it('unknown_pattern: names the pattern, cut to 64 characters', () => {
    const result = failure(decodeRecordsMessage(message({ pattern: 'records.low', data: record(1) })));
    expect(result.reason).toBe('unknown_pattern');
    expect(result.detail).toContain('records.low');
    const long = failure(decodeRecordsMessage(message({ pattern: 'p'.repeat(1000), data: record(1) })));
    expect(long.reason).toBe('unknown_pattern');
    expect(long.detail).not.toContain('p'.repeat(65));
  });

  it('empty_batch: data is an empty array', () => {
    expect(failure(decodeRecordsMessage(message({ pattern: RECORDS_PATTERN, data: [] }))).reason).toBe('empty_batch');
  });

  it('too_many_records: more than MAX_RECORDS_PER_MESSAGE items, refused before validating them', () => {
    const data = Array.from({ length: MAX_RECORDS_PER_MESSAGE + 1 }, () => 0);
    const result = failure(decodeRecordsMessage(message({ pattern: RECORDS_PATTERN, data })));
    expect(result.reason).toBe('too_many_records');
    expect(result.detail).toContain(String(MAX_RECORDS_PER_MESSAGE + 1));
  });

  it.each<[string, unknown]>([
    ['null data', null],
    ['a number', 42],
    ['a record with an extra field', { ...record(1), extra: 1 }],
    ['a record missing its hash', { source: 'g', seq: 1, timestamp: 1, randomValue: 1 }],
    ['a record with randomValue 101', { ...record(1), randomValue: 101 }],
  ])('invalid_record: %s', (_label, data) => {
    expect(failure(decodeRecordsMessage(message({ pattern: RECORDS_PATTERN, data }))).reason).toBe('invalid_record');
  });

  it('invalid_record: one bad record fails the whole batch and the detail names its index', () => {
    const data = [record(1), record(2), { ...record(3), seq: 0 }, record(4)];
    const result = failure(decodeRecordsMessage(message({ pattern: RECORDS_PATTERN, data })));
    expect(result.reason).toBe('invalid_record');
    expect(result.detail).toMatch(/^record 2: /);
  });

  it('hash_mismatch: a well-formed record whose hash does not match', () => {
    const good = record(1);
    const bad = { ...good, hashValue: good.hashValue === '00' ? '01' : '00' };
    const result = failure(decodeRecordsMessage(message({ pattern: RECORDS_PATTERN, data: [good, bad] })));
    expect(result.reason).toBe('hash_mismatch');
    expect(result.detail).toMatch(/^record 1: /);
  });

  it('reports invalid_record rather than hash_mismatch when a record is both malformed and mis-hashed', () => {
    const good = record(1);
    const data = { ...good, hashValue: good.hashValue === '00' ? '01' : '00', randomValue: -1 };
    expect(failure(decodeRecordsMessage(message({ pattern: RECORDS_PATTERN, data }))).reason).toBe('invalid_record');
  });
});

describe('decodeRecordsMessage: total on any bytes', () => {
  function check(body: Buffer): void {
    let decoded: DecodedMessage | undefined;
    expect(() => {
      decoded = decodeRecordsMessage(body);
    }).not.toThrow();
    if (decoded === undefined) throw new Error('no result');
    if (decoded.ok) {
      // Whatever decodes has passed full validation.
      expect(decoded.records.length).toBeGreaterThan(0);
      for (const r of decoded.records) expect(r.hashValue).toBe(computeHash(r.timestamp, r.randomValue));
    } else {
      expect(REASONS).toContain(decoded.reason);
      expect(typeof decoded.detail).toBe('string');
    }
  }

  it('never throws on 2000 random byte buffers', () => {
    const random = prng(42);
    for (let i = 0; i < 2000; i++) {
      const body = Buffer.alloc(Math.floor(random() * 512));
      for (let j = 0; j < body.length; j++) body[j] = Math.floor(random() * 256);
      check(body);
    }
  });

  it('never throws on 2000 mutations of a valid message (JSON that is almost right)', () => {
    const random = prng(7);
    const valid = message({ pattern: RECORDS_PATTERN, data: [record(1), record(2)] });
    const alphabet = Buffer.from('{}[]":,0123456789-.eE truefalsnul\\', 'utf8');
    for (let i = 0; i < 2000; i++) {
      const body = Buffer.from(valid);
      const edits = 1 + Math.floor(random() * 3);
      for (let e = 0; e < edits; e++) {
        body[Math.floor(random() * body.length)] = alphabet[Math.floor(random() * alphabet.length)] as number;
      }
      check(body);
    }
  });

  it('never throws on JSON values of every type in every position', () => {
    const values: unknown[] = [null, true, 0, -1, 1e308, '', 'x', [], {}, [null], [[]], { pattern: RECORDS_PATTERN }];
    for (const pattern of values) {
      for (const data of values) check(message({ pattern, data }));
      check(message(pattern));
    }
    check(Buffer.from('{"pattern":"records.high","data":{"__proto__":{"source":"a"}}}', 'utf8'));
    check(Buffer.from('{"pattern":"records.high","data":[' + '['.repeat(5000) + ']'.repeat(5000) + ']}', 'utf8'));
  });
});
