import { jest } from '@jest/globals';
import { appendFile, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { computeHash, type DataRecord, hourFileName } from '@dataflow/contracts';
import { PartitionFiles } from './partition-files';

let dir: string;
const events = { waiting: jest.fn(), tookOver: jest.fn() };

beforeEach(async () => {
  dir = join(await mkdtemp(join(tmpdir(), 'dataflow-partition-')), '3');
  events.waiting.mockReset();
  events.tookOver.mockReset();
});

afterEach(async () => {
  await rm(join(dir, '..'), { recursive: true, force: true });
});

function rec(source: string, seq: number): DataRecord {
  const timestamp = 1_732_500_000_000 + seq;
  const randomValue = seq % 101;
  return { source, seq, timestamp, randomValue, hashValue: computeHash(timestamp, randomValue) };
}

function range(source: string, from: number, to: number): DataRecord[] {
  return Array.from({ length: to - from + 1 }, (_, i) => rec(source, from + i));
}

/** Every record line of the partition's hour files, as `source:seq`, in file order. */
async function stored(): Promise<string[]> {
  const names = (await readdir(dir)).filter((name) => name.endsWith('.ndjson')).sort();
  const out: string[] = [];
  for (const name of names) {
    for (const line of (await readFile(join(dir, name), 'utf8')).split('\n')) {
      if (line === '') continue;
      const { source, seq } = JSON.parse(line) as DataRecord;
      out.push(`${source}:${seq}`);
    }
  }
  return out;
}

function session(): AbortController {
  return new AbortController();
}

describe('a file sink partition', () => {
  it('appends each record once, in seq order per source, whatever repeats arrive', async () => {
    const files = new PartitionFiles(dir, false, events);
    const s = session();
    expect(await files.append(range('a', 1, 3), false, s.signal)).toEqual({ stored: 3, duplicates: 0 });
    // A filter's publish that raced the resend made to another filter: all at or below the floor.
    expect(await files.append(range('a', 2, 5), false, s.signal)).toEqual({ stored: 2, duplicates: 2 });
    expect(await files.append([...range('b', 1, 2), ...range('a', 1, 1)], false, s.signal)).toEqual({
      stored: 2,
      duplicates: 1,
    });
    await files.close();
    expect(await stored()).toEqual(['a:1', 'a:2', 'a:3', 'a:4', 'a:5', 'b:1', 'b:2']);
  });

  it('lets a second owner in only after the first gave the partition up, and it then knows what was written', async () => {
    const first = new PartitionFiles(dir, false, events);
    const second = new PartitionFiles(dir, false, events);
    const one = session();
    await first.append(range('a', 1, 10), false, one.signal);
    let secondDone = false;
    const two = session();
    const taking = second.append(range('a', 5, 12), false, two.signal).then((outcome) => {
      secondDone = true;
      return outcome;
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    // The first still holds the lock (its session is open): the second waits and writes nothing.
    expect(secondDone).toBe(false);
    expect(events.waiting).toHaveBeenCalledTimes(1);
    await first.append(range('a', 11, 11), false, one.signal);
    one.abort(new Error('session ended'));
    expect(await taking).toEqual({ stored: 1, duplicates: 7 });
    await second.close();
    await first.close();
    expect(await stored()).toEqual(range('a', 1, 12).map((r) => `a:${r.seq}`));
  });

  it('stops waiting when its own session ends first', async () => {
    const first = new PartitionFiles(dir, false, events);
    const second = new PartitionFiles(dir, false, events);
    await first.append(range('a', 1, 1), false, session().signal);
    const two = session();
    const taking = second.append(range('a', 2, 2), false, two.signal);
    two.abort(new Error('handed over'));
    await expect(taking).rejects.toThrow('handed over');
    await first.close();
    await second.close();
    expect(await stored()).toEqual(['a:1']);
  });

  it('counts lines written after the last commit, and repairs a torn last line, when it takes over', async () => {
    const first = new PartitionFiles(dir, false, events);
    await first.append(range('a', 1, 2), false, session().signal);
    await first.close();
    // What a crash between the write and its commit leaves: complete lines, and a torn one.
    const name = hourFileName(rec('a', 3).timestamp);
    await appendFile(join(dir, name), `${JSON.stringify(rec('a', 3))}\n${JSON.stringify(rec('a', 4)).slice(0, 20)}`);
    const next = new PartitionFiles(dir, false, events);
    expect(await next.append(range('a', 1, 5), false, session().signal)).toEqual({ stored: 2, duplicates: 3 });
    expect(events.tookOver).toHaveBeenLastCalledWith(dir, expect.objectContaining({ repairedFiles: [name] }));
    await next.close();
    expect(await stored()).toEqual(['a:1', 'a:2', 'a:3', 'a:4', 'a:5']);
  });

  it('a new session of the same process reads the files afresh (another may have written between)', async () => {
    const files = new PartitionFiles(dir, false, events);
    const one = session();
    await files.append(range('a', 1, 2), false, one.signal);
    one.abort(new Error('rewound'));
    const other = new PartitionFiles(dir, false, events);
    await other.append(range('a', 3, 4), false, session().signal);
    await other.close();
    expect(await files.append(range('a', 1, 6), false, session().signal)).toEqual({ stored: 2, duplicates: 4 });
    await files.close();
    expect(await stored()).toEqual(range('a', 1, 6).map((r) => `a:${r.seq}`));
  });

  it('appends a replayed dead letter below the floor only if its hour file lacks it', async () => {
    const files = new PartitionFiles(dir, false, events);
    const s = session();
    await files.append([rec('a', 1), rec('a', 3)], false, s.signal);
    expect(await files.append([rec('a', 2), rec('a', 3)], true, s.signal)).toEqual({ stored: 1, duplicates: 1 });
    await files.close();
    expect(await stored()).toEqual(['a:1', 'a:3', 'a:2']);
  });

  it('starts from what the files hold when there is no state beside them', async () => {
    await mkdir(dir, { recursive: true });
    await appendFile(
      join(dir, hourFileName(rec('a', 1).timestamp)),
      range('a', 1, 4)
        .map((r) => `${JSON.stringify(r)}\n`)
        .join(''),
    );
    const files = new PartitionFiles(dir, false, events);
    expect(await files.append(range('a', 3, 6), false, session().signal)).toEqual({ stored: 2, duplicates: 2 });
    await files.close();
    expect(await stored()).toEqual(range('a', 1, 6).map((r) => `a:${r.seq}`));
  });
});
