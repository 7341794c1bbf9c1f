import { mkdtemp, open, readFile, rm, stat, utimes, writeFile, appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { computeHash, DataRecord } from '@dataflow/contracts';
import type { Checkpoint } from './file-sink.checkpoint';
import { recoverFileSink, type RecoveredState } from './file-sink.recovery';

const HOUR_A = 'records-2024-11-25T02.ndjson';
const HOUR_B = 'records-2024-11-25T03.ndjson';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dataflow-recovery-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function rec(source: string, seq: number): DataRecord {
  const timestamp = 1_732_500_000_000 + seq;
  const randomValue = seq % 101;
  return { source, seq, timestamp, randomValue, hashValue: computeHash(timestamp, randomValue) };
}

function lines(records: readonly DataRecord[]): string {
  return records.map((r) => `${JSON.stringify(r)}\n`).join('');
}

function many(source: string, from: number, to: number): DataRecord[] {
  return Array.from({ length: to - from + 1 }, (_, i) => rec(source, from + i));
}

async function sizeOf(name: string): Promise<number> {
  return (await stat(join(dir, name))).size;
}

/** Overwrites bytes in place (same size), e.g. to corrupt a region the checkpoint says is done. */
async function overwrite(name: string, position: number, text: string): Promise<void> {
  const handle = await open(join(dir, name), 'r+');
  try {
    await handle.write(Buffer.from(text, 'utf8'), 0, Buffer.byteLength(text), position);
  } finally {
    await handle.close();
  }
}

function checkpointOf(
  files: Record<string, number>,
  floors: Record<string, number>,
  writtenAt = Date.now(),
): Checkpoint {
  const sources = Object.fromEntries(Object.entries(floors).map(([source, floor]) => [source, { floor }]));
  return { writtenAt, files, sources };
}

/** Without a checkpoint: the highest seq the files hold of `source` (undefined if none). */
function highest(state: RecoveredState, source: string): number | undefined {
  return state.held.snapshot()[source]?.scannedMax;
}

describe('recoverFileSink without a checkpoint', () => {
  it('returns an empty state for an empty directory', async () => {
    const state = await recoverFileSink(dir, undefined);
    expect(state.held.size).toBe(0);
    expect(state).toMatchObject({ files: new Map(), repairedFiles: [], scannedBytes: 0, unreadableLines: 0 });
  });

  it('scans every sink file in full and finds the highest seq per source', async () => {
    await writeFile(join(dir, HOUR_A), lines([rec('a', 1), rec('b', 1), rec('a', 2), rec('a', 3)]));
    await writeFile(join(dir, HOUR_B), lines([rec('a', 4), rec('b', 2), rec('c', 9)]));
    const state = await recoverFileSink(dir, undefined);
    expect(state.held.snapshot()).toEqual({
      a: { floor: 0, scannedMax: 4 },
      b: { floor: 0, scannedMax: 2 },
      c: { floor: 0, scannedMax: 9 },
    });
    expect(state.scannedBytes).toBe((await sizeOf(HOUR_A)) + (await sizeOf(HOUR_B)));
    expect(state.repairedFiles).toEqual([]);
    expect(state.unreadableLines).toBe(0);
    expect([...state.files.keys()].sort()).toEqual([HOUR_A, HOUR_B]);
    expect(state.files.get(HOUR_A)?.size).toBe(await sizeOf(HOUR_A));
  });

  it('takes the maximum seq even when a file holds a source out of order', async () => {
    await writeFile(join(dir, HOUR_A), lines([rec('a', 7), rec('a', 3)]));
    await writeFile(join(dir, HOUR_B), lines([rec('a', 5)]));
    expect(highest(await recoverFileSink(dir, undefined), 'a')).toBe(7);
  });

  it('ignores files that are not sink files', async () => {
    await writeFile(join(dir, 'notes.txt'), 'torn');
    await writeFile(join(dir, 'records-2024-11-25.ndjson'), lines([rec('x', 99)]) + 'torn');
    await writeFile(join(dir, `${HOUR_A}.tmp`), 'torn');
    await writeFile(join(dir, '.checkpoint.json'), '{}');
    const state = await recoverFileSink(dir, undefined);
    expect(state.files.size).toBe(0);
    expect(state.held.size).toBe(0);
    expect(await readFile(join(dir, 'notes.txt'), 'utf8')).toBe('torn');
  });

  it('truncates a torn last line so the file ends with a newline', async () => {
    const complete = lines([rec('a', 1), rec('a', 2)]);
    const torn = JSON.stringify(rec('a', 3)).slice(0, 30);
    await writeFile(join(dir, HOUR_A), complete + torn);
    const state = await recoverFileSink(dir, undefined);
    expect(await readFile(join(dir, HOUR_A), 'utf8')).toBe(complete);
    expect(state.repairedFiles).toEqual([HOUR_A]);
    expect(state.files.get(HOUR_A)?.size).toBe(Buffer.byteLength(complete));
    expect(highest(state, 'a')).toBe(2);
    expect(state.unreadableLines).toBe(0);
  });

  it('truncates a last line that is complete JSON but lacks its newline (the write was cut)', async () => {
    const complete = lines([rec('a', 1)]);
    await writeFile(join(dir, HOUR_A), complete + JSON.stringify(rec('a', 2)));
    const state = await recoverFileSink(dir, undefined);
    expect(await readFile(join(dir, HOUR_A), 'utf8')).toBe(complete);
    expect(highest(state, 'a')).toBe(1);
  });

  it('truncates a file holding only a torn line to empty', async () => {
    await writeFile(join(dir, HOUR_A), '{"source":"a","se');
    const state = await recoverFileSink(dir, undefined);
    expect(await sizeOf(HOUR_A)).toBe(0);
    expect(state.repairedFiles).toEqual([HOUR_A]);
    expect(state.held.size).toBe(0);
  });

  it('cuts a torn tail holding invalid UTF-8 exactly at the last newline, keeping every complete line', async () => {
    // A crash can leave arbitrary bytes after the last complete line (e.g. a partly written block).
    const complete = lines([rec('a', 1), rec('a', 2)]);
    const tail = Buffer.concat([Buffer.from('{"source":"a","seq":3,', 'utf8'), Buffer.from([0xc3])]);
    await writeFile(join(dir, HOUR_A), Buffer.concat([Buffer.from(complete, 'utf8'), tail]));
    const state = await recoverFileSink(dir, undefined);
    expect(await readFile(join(dir, HOUR_A), 'utf8')).toBe(complete);
    expect(highest(state, 'a')).toBe(2);
  });

  it('leaves a file that ends with a newline untouched', async () => {
    const complete = lines(many('a', 1, 10));
    await writeFile(join(dir, HOUR_A), complete);
    const before = await stat(join(dir, HOUR_A));
    const state = await recoverFileSink(dir, undefined);
    expect(state.repairedFiles).toEqual([]);
    expect(await readFile(join(dir, HOUR_A), 'utf8')).toBe(complete);
    expect((await stat(join(dir, HOUR_A))).mtimeMs).toBe(before.mtimeMs);
  });

  it('counts unreadable lines and skips empty ones, without losing the readable records', async () => {
    const content = [
      JSON.stringify(rec('a', 1)),
      'garbage',
      '',
      '{"foo":1}',
      'null',
      '[1,2]',
      '{"source":"a","seq":"2"}',
      JSON.stringify(rec('a', 3)),
      '',
    ].join('\n');
    await writeFile(join(dir, HOUR_A), content);
    const state = await recoverFileSink(dir, undefined);
    expect(state.unreadableLines).toBe(5);
    expect(highest(state, 'a')).toBe(3);
    expect(state.repairedFiles).toEqual([]);
  });

  it('reads files larger than its 1 MiB chunk, with lines across chunk boundaries', async () => {
    const records = many('big', 1, 30_000);
    const content = lines(records);
    expect(Buffer.byteLength(content)).toBeGreaterThan(2 * 1024 * 1024);
    const torn = '{"source":"big","seq":30001,"timest';
    await writeFile(join(dir, HOUR_A), content + torn);
    const state = await recoverFileSink(dir, undefined);
    expect(highest(state, 'big')).toBe(30_000);
    expect(state.unreadableLines).toBe(0);
    expect(state.repairedFiles).toEqual([HOUR_A]);
    expect(await sizeOf(HOUR_A)).toBe(Buffer.byteLength(content));
  });
});

describe('recoverFileSink with a checkpoint', () => {
  it('does not re-read a file whose size equals the recorded one', async () => {
    const content = lines(many('a', 1, 5));
    await writeFile(join(dir, HOUR_A), content);
    // Corrupt bytes inside the region the checkpoint vouches for: a scan would see unreadable lines.
    await overwrite(HOUR_A, 0, 'XXXXXXXX');
    const checkpoint = checkpointOf({ [HOUR_A]: Buffer.byteLength(content) }, { a: 5 });
    const state = await recoverFileSink(dir, checkpoint);
    expect(state.unreadableLines).toBe(0);
    expect(state.scannedBytes).toBe(0);
    expect(state.repairedFiles).toEqual([]);
    expect(state.held.snapshot()).toEqual({ a: { floor: 5 } });
    expect(state.files.get(HOUR_A)?.size).toBe(Buffer.byteLength(content));
  });

  it('takes the floors from the checkpoint for files it does not read', async () => {
    const content = lines(many('a', 1, 5));
    await writeFile(join(dir, HOUR_A), content);
    const state = await recoverFileSink(dir, checkpointOf({ [HOUR_A]: Buffer.byteLength(content) }, { a: 5, b: 11 }));
    expect(state.held.snapshot()).toEqual({ a: { floor: 5 }, b: { floor: 11 } });
  });

  it('restores the seqs held above a floor, exactly', async () => {
    const checkpoint: Checkpoint = { writtenAt: Date.now(), files: {}, sources: { a: { floor: 5, above: [7, 9] } } };
    const state = await recoverFileSink(dir, checkpoint);
    expect([5, 6, 7, 8, 9, 10].map((seq) => state.held.holds('a', seq))).toEqual([
      true,
      false,
      true,
      false,
      true,
      false,
    ]);
  });

  it('after a crash that cut a flush between two hour files, holds what reached a file and nothing else', async () => {
    // The checkpoint before the flush: a 1..9 handed on. The flush wrote 10 and 12 to hour B and
    // was cut before 11 (hour A, a clock step back) was written.
    const before = lines(many('a', 1, 9));
    await writeFile(join(dir, HOUR_B), before);
    const checkpoint = checkpointOf({ [HOUR_B]: Buffer.byteLength(before) }, { a: 9 });
    await appendFile(join(dir, HOUR_B), lines([rec('a', 10), rec('a', 12)]));
    const state = await recoverFileSink(dir, checkpoint);
    expect([10, 11, 12].map((seq) => state.held.holds('a', seq))).toEqual([true, false, true]);
  });

  it('scans a file that grew beyond the checkpoint from the recorded offset only', async () => {
    const before = lines(many('a', 1, 5));
    const after = lines([...many('a', 6, 8), rec('b', 3)]);
    await writeFile(join(dir, HOUR_A), before + after);
    await overwrite(HOUR_A, 0, 'XXXXXXXX');
    const state = await recoverFileSink(dir, checkpointOf({ [HOUR_A]: Buffer.byteLength(before) }, { a: 5 }));
    expect(state.unreadableLines).toBe(0);
    expect(state.scannedBytes).toBe(Buffer.byteLength(after));
    expect(state.held.snapshot()).toEqual({ a: { floor: 5, above: [6, 7, 8] }, b: { floor: 0, above: [3] } });
    expect(state.files.get(HOUR_A)?.size).toBe(Buffer.byteLength(before + after));
  });

  it('repairs a torn line written after the checkpoint', async () => {
    const before = lines(many('a', 1, 5));
    const after = lines(many('a', 6, 7));
    await writeFile(join(dir, HOUR_A), before + after + '{"source":"a","seq":8');
    const state = await recoverFileSink(dir, checkpointOf({ [HOUR_A]: Buffer.byteLength(before) }, { a: 5 }));
    expect(await readFile(join(dir, HOUR_A), 'utf8')).toBe(before + after);
    expect(state.repairedFiles).toEqual([HOUR_A]);
    expect(state.held.snapshot()).toEqual({ a: { floor: 5, above: [6, 7] } });
  });

  it('repairs a torn line right after the recorded offset, cutting back to it', async () => {
    const before = lines(many('a', 1, 5));
    await writeFile(join(dir, HOUR_A), before + '{"source":"a","seq":6');
    const state = await recoverFileSink(dir, checkpointOf({ [HOUR_A]: Buffer.byteLength(before) }, { a: 5 }));
    expect(await readFile(join(dir, HOUR_A), 'utf8')).toBe(before);
    expect(state.files.get(HOUR_A)?.size).toBe(Buffer.byteLength(before));
  });

  it('scans a file that shrank below the recorded size from the start', async () => {
    const content = lines(many('a', 1, 3));
    await writeFile(join(dir, HOUR_A), content);
    const state = await recoverFileSink(dir, checkpointOf({ [HOUR_A]: Buffer.byteLength(content) + 1000 }, {}));
    expect(state.scannedBytes).toBe(Buffer.byteLength(content));
    expect(state.held.snapshot()).toEqual({ a: { floor: 0, above: [1, 2, 3] } });
  });

  it('scans a sink file the checkpoint does not know when it was written recently', async () => {
    const known = lines(many('a', 1, 2));
    await writeFile(join(dir, HOUR_A), known);
    await writeFile(join(dir, HOUR_B), lines(many('a', 3, 4)));
    const state = await recoverFileSink(dir, checkpointOf({ [HOUR_A]: Buffer.byteLength(known) }, { a: 2 }));
    expect(state.held.snapshot()).toEqual({ a: { floor: 2, above: [3, 4] } });
    expect(state.scannedBytes).toBe(await sizeOf(HOUR_B));
  });

  it('skips an unknown sink file last modified well before the checkpoint', async () => {
    await writeFile(join(dir, HOUR_A), lines(many('old', 1, 3)) + 'torn');
    const writtenAt = Date.now();
    const longAgo = new Date(writtenAt - 60_000);
    await utimes(join(dir, HOUR_A), longAgo, longAgo);
    const state = await recoverFileSink(dir, checkpointOf({}, { old: 3 }, writtenAt));
    expect(state.scannedBytes).toBe(0);
    expect(state.repairedFiles).toEqual([]);
    expect(state.files.has(HOUR_A)).toBe(true);
  });

  it('scans an unknown sink file modified within a second before the checkpoint', async () => {
    await writeFile(join(dir, HOUR_A), lines(many('new', 1, 3)));
    const info = await stat(join(dir, HOUR_A));
    const state = await recoverFileSink(dir, checkpointOf({}, {}, info.mtimeMs + 500));
    expect(state.held.snapshot()).toEqual({ new: { floor: 0, above: [1, 2, 3] } });
  });

  it('keeps the floors of the checkpoint and holds exactly what the scanned files add above them', async () => {
    await appendFile(join(dir, HOUR_B), lines([rec('a', 7), rec('b', 3)]));
    // A checkpoint older than the file: the file is scanned.
    const state = await recoverFileSink(dir, checkpointOf({}, { a: 10, c: 4 }, Date.now() - 60_000));
    expect(state.held.snapshot()).toEqual({ a: { floor: 10 }, b: { floor: 0, above: [3] }, c: { floor: 4 } });
  });
});
