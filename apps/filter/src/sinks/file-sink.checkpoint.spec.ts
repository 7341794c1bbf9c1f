import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Checkpoint, CHECKPOINT_FILE, readCheckpoint, writeCheckpoint } from './file-sink.checkpoint';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dataflow-checkpoint-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const checkpoint: Checkpoint = {
  writtenAt: 1_732_500_000_000,
  files: { 'records-2024-11-25T02.ndjson': 12_345, 'records-2024-11-25T03.ndjson': 0 },
  sources: {
    'generator-1': { floor: 42 },
    'gen.B_2-x': { floor: 7, above: [9, 11] },
    old: { floor: 0, scannedMax: 3 },
  },
};

describe('file sink checkpoint', () => {
  it('round-trips through writeCheckpoint and readCheckpoint', async () => {
    await writeCheckpoint(dir, checkpoint);
    await expect(readCheckpoint(dir)).resolves.toEqual(checkpoint);
  });

  it('replaces an older checkpoint and leaves no temporary file behind', async () => {
    await writeCheckpoint(dir, checkpoint);
    const newer: Checkpoint = {
      writtenAt: checkpoint.writtenAt + 1,
      files: {},
      sources: { 'generator-1': { floor: 43 } },
    };
    await writeCheckpoint(dir, newer);
    await expect(readCheckpoint(dir)).resolves.toEqual(newer);
    expect(await readdir(dir)).toEqual([CHECKPOINT_FILE]);
  });

  it('writes JSON to .checkpoint.json', async () => {
    await writeCheckpoint(dir, checkpoint);
    expect(JSON.parse(await readFile(join(dir, CHECKPOINT_FILE), 'utf8'))).toEqual({ version: 2, ...checkpoint });
  });

  it('reads a checkpoint of the previous format as the highest seqs the files hold, nothing handed on', async () => {
    await writeFile(
      join(dir, CHECKPOINT_FILE),
      JSON.stringify({ writtenAt: 5, files: { f: 10 }, handedOn: { g: 12 } }),
    );
    await expect(readCheckpoint(dir)).resolves.toEqual({
      writtenAt: 5,
      files: { f: 10 },
      sources: { g: { floor: 0, scannedMax: 12 } },
    });
  });

  it('reads undefined when there is no checkpoint', async () => {
    await expect(readCheckpoint(dir)).resolves.toBeUndefined();
  });

  it('reads undefined when the directory does not exist', async () => {
    await expect(readCheckpoint(join(dir, 'missing'))).resolves.toBeUndefined();
  });

  it.each([
    ['garbage', 'not json at all'],
    ['an empty file', ''],
    ['a torn write', JSON.stringify(checkpoint).slice(0, 40)],
    ['null', 'null'],
    ['a number', '42'],
    ['a string', '"checkpoint"'],
    ['writtenAt missing', JSON.stringify({ version: 2, files: {}, sources: {} })],
    ['writtenAt as string', JSON.stringify({ version: 2, writtenAt: '1', files: {}, sources: {} })],
    ['files missing', JSON.stringify({ version: 2, writtenAt: 1, sources: {} })],
    ['files null', JSON.stringify({ version: 2, writtenAt: 1, files: null, sources: {} })],
    ['a file size as string', JSON.stringify({ version: 2, writtenAt: 1, files: { a: '10' }, sources: {} })],
    ['sources missing', JSON.stringify({ version: 2, writtenAt: 1, files: {} })],
    ['a floor as string', JSON.stringify({ version: 2, writtenAt: 1, files: {}, sources: { g: { floor: '5' } } })],
    ['a floor missing', JSON.stringify({ version: 2, writtenAt: 1, files: {}, sources: { g: {} } })],
    [
      'a held seq not a number',
      JSON.stringify({ version: 2, writtenAt: 1, files: {}, sources: { g: { floor: 1, above: ['x'] } } }),
    ],
    ['an unknown version', JSON.stringify({ version: 9, writtenAt: 1, files: {}, sources: {} })],
    ['the previous format with a seq null', JSON.stringify({ writtenAt: 1, files: {}, handedOn: { g: null } })],
  ])('reads undefined for %s', async (_label, text) => {
    await writeFile(join(dir, CHECKPOINT_FILE), text);
    await expect(readCheckpoint(dir)).resolves.toBeUndefined();
  });

  it('returns only the known fields', async () => {
    await writeFile(join(dir, CHECKPOINT_FILE), JSON.stringify({ version: 2, ...checkpoint, extra: 'x' }));
    await expect(readCheckpoint(dir)).resolves.toEqual(checkpoint);
  });
});
