import { FILE_SINK_PREFIX, FILE_SINK_SUFFIX, hourFileName, isSinkFileName } from './file-sink-layout';
import { MAX_TIMESTAMP } from './data-record';

describe('hourFileName', () => {
  it.each([
    [0, 'records-1970-01-01T00.ndjson'],
    [3_599_999, 'records-1970-01-01T00.ndjson'],
    [3_600_000, 'records-1970-01-01T01.ndjson'],
    [1732500000000, 'records-2024-11-25T02.ndjson'],
    [Date.UTC(2024, 1, 29, 23, 59, 59, 999), 'records-2024-02-29T23.ndjson'],
    [Date.UTC(2024, 2, 1, 0, 0, 0, 0), 'records-2024-03-01T00.ndjson'],
    [Date.UTC(2025, 11, 31, 23, 0, 0, 0), 'records-2025-12-31T23.ndjson'],
    [Date.UTC(2026, 0, 1, 0, 0, 0, 0) - 1, 'records-2025-12-31T23.ndjson'],
    [Date.UTC(2026, 0, 1, 0, 0, 0, 0), 'records-2026-01-01T00.ndjson'],
    [MAX_TIMESTAMP, 'records-9999-12-31T23.ndjson'],
  ])('%d -> %s', (timestamp, name) => {
    expect(hourFileName(timestamp)).toBe(name);
  });

  it('uses UTC, not the local time zone', () => {
    const timestamp = Date.UTC(2024, 5, 15, 13, 30);
    expect(hourFileName(timestamp)).toBe('records-2024-06-15T13.ndjson');
  });

  it('puts every millisecond of one UTC hour into one file and the next millisecond into the next', () => {
    const start = Date.UTC(2024, 6, 1, 8);
    const names = new Set([start, start + 1, start + 1_799_999, start + 3_599_999].map(hourFileName));
    expect([...names]).toEqual(['records-2024-07-01T08.ndjson']);
    expect(hourFileName(start + 3_600_000)).toBe('records-2024-07-01T09.ndjson');
    expect(hourFileName(start - 1)).toBe('records-2024-07-01T07.ndjson');
  });

  it('always produces a name isSinkFileName accepts, with the prefix and suffix', () => {
    for (const timestamp of [0, 1, 86_399_999, 1732500000000, MAX_TIMESTAMP]) {
      const name = hourFileName(timestamp);
      expect(name.startsWith(FILE_SINK_PREFIX)).toBe(true);
      expect(name.endsWith(FILE_SINK_SUFFIX)).toBe(true);
      expect(isSinkFileName(name)).toBe(true);
    }
  });
});

describe('isSinkFileName', () => {
  it.each([
    ['records-2024-11-25T02.ndjson', true],
    ['records-1970-01-01T00.ndjson', true],
    ['records-2024-11-25T02.ndjson.tmp', false],
    ['records-2024-11-25T2.ndjson', false],
    ['records-2024-11-25.ndjson', false],
    ['records-2024-11-25T02.json', false],
    ['Records-2024-11-25T02.ndjson', false],
    ['xrecords-2024-11-25T02.ndjson', false],
    ['records-+10000-01-01T00.ndjson', false],
    ['.checkpoint.json', false],
    ['', false],
  ])('%j -> %s', (name, expected) => {
    expect(isSinkFileName(name)).toBe(expected);
  });
});
