import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mongoFilter, sinkFiles } from './readers';

describe('mongoFilter', () => {
  it('selects one source without a window', () => {
    expect(mongoFilter({}, 's')).toEqual({ source: 's' });
    expect(mongoFilter({}, undefined)).toEqual({});
  });

  it('selects documents by head or by a nested record inside the window', () => {
    expect(mongoFilter({ fromSeq: 10, toSeq: 20, since: 5 }, 's')).toEqual({
      source: 's',
      $or: [
        { seq: { $gte: 10, $lte: 20 }, timestamp: { $gte: 5 } },
        { 'nestedRecords.seq': { $gte: 10, $lte: 20 }, 'nestedRecords.timestamp': { $gte: 5 } },
      ],
    });
    expect(mongoFilter({ until: 9 }, undefined)).toEqual({
      $or: [{ timestamp: { $lt: 9 } }, { 'nestedRecords.timestamp': { $lt: 9 } }],
    });
  });
});

describe('sinkFiles', () => {
  it('lists the hour files of the directory, then those of each partition directory in partition order', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dataflow-sink-files-'));
    try {
      for (const name of ['records-2026-12-01T03.ndjson', 'records-2026-12-01T02.ndjson', 'notes.txt']) {
        writeFileSync(join(dir, name), 'x');
      }
      for (const partition of ['10', '2']) {
        mkdirSync(join(dir, partition));
        writeFileSync(join(dir, partition, 'records-2026-12-01T01.ndjson'), '');
        writeFileSync(join(dir, partition, '.partition.sqlite'), '');
      }
      const files = sinkFiles(dir);
      expect(files.map((f) => f.name)).toEqual([
        'records-2026-12-01T02.ndjson',
        'records-2026-12-01T03.ndjson',
        '2/records-2026-12-01T01.ndjson',
        '10/records-2026-12-01T01.ndjson',
      ]);
      expect(files[2]?.hourStart).toBe(Date.parse('2026-12-01T01:00:00.000Z'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
