import { formatTailRecord, parseDropped, parseRoutes, parseTailRecord } from './tail-event';

describe('tail events', () => {
  const data = {
    source: 'g',
    seq: 5,
    timestamp: 1_732_500_000_000,
    randomValue: 95,
    hashValue: '3f',
    route: 'queue',
    rule: 'threshold',
    rulesVersion: 'v2',
  };

  it('parses a record event and formats it on one line', () => {
    const record = parseTailRecord(JSON.stringify(data));
    expect(record).toEqual(data);
    expect(formatTailRecord(record!)).toBe(
      '2024-11-25T02:00:00.000Z  g:5  value  95  hash 3f  -> queue  rule threshold (rules v2)',
    );
  });

  it('refuses data that is not a routed record', () => {
    expect(parseTailRecord('{')).toBeUndefined();
    expect(parseTailRecord(JSON.stringify({ ...data, route: 'elsewhere' }))).toBeUndefined();
    expect(parseTailRecord(JSON.stringify({ ...data, seq: '5' }))).toBeUndefined();
  });

  it('parses route lists and dropped counts', () => {
    expect([...parseRoutes('queue, both')]).toEqual(['queue', 'both']);
    expect(() => parseRoutes('queue,nowhere')).toThrow('unknown route "nowhere"');
    expect(parseDropped('{"count":3}')).toBe(3);
    expect(parseDropped('x')).toBeUndefined();
  });
});
