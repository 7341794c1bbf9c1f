import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FLOORS_DIR, FloorStore } from './floor-store';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dataflow-floors-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('FloorStore', () => {
  it('keeps floors across a restart, and knows without reading which sources it never held', async () => {
    const store = new FloorStore(dir);
    expect(await store.open()).toBe(0);
    const floors = new Map(Array.from({ length: 1000 }, (_, i) => [`source-${i}`, i + 1] as [string, number]));
    await store.save(floors);
    expect(await store.floor('source-17')).toBe(18);
    const reopened = new FloorStore(dir);
    expect(await reopened.open()).toBe(1000);
    expect(await reopened.floor('source-999')).toBe(1000);
    expect(await reopened.floor('never-seen')).toBeUndefined();
    let unknownMaybe = 0;
    for (let i = 0; i < 1000; i++) if (reopened.mayHave(`other-${i}`)) unknownMaybe++;
    expect(unknownMaybe).toBeLessThan(10); // the filter's false positives
    expect((await readdir(join(dir, FLOORS_DIR))).every((name) => /^[0-9a-f]{2}\.json$/.test(name))).toBe(true);
  });

  it('never moves a floor back', async () => {
    const store = new FloorStore(dir);
    await store.open();
    await store.save(new Map([['a', 10]]));
    await store.save(new Map([['a', 4]]));
    expect(await store.floor('a')).toBe(10);
  });

  it('refuses to start on a bucket it cannot read, rather than forget its floors', async () => {
    const store = new FloorStore(dir);
    await store.open();
    await store.save(new Map([['a', 10]]));
    const [bucket] = await readdir(join(dir, FLOORS_DIR));
    await writeFile(join(dir, FLOORS_DIR, bucket as string), '{"a": 10, "b"');
    await expect(new FloorStore(dir).open()).rejects.toThrow(/is not a floor bucket/);
    await writeFile(join(dir, FLOORS_DIR, bucket as string), '{"a": -1}');
    await expect(new FloorStore(dir).open()).rejects.toThrow(/is not a seq/);
  });

  it('fails a lookup or a save when a bucket cannot be read, and never writes it back emptied', async () => {
    const store = new FloorStore(dir);
    await store.open();
    await store.save(new Map([['a', 10]]));
    const [bucket] = await readdir(join(dir, FLOORS_DIR));
    const path = join(dir, FLOORS_DIR, bucket as string);
    // A read error other than "no such file" (here: the bucket is a directory).
    await rm(path);
    await mkdir(path);
    await expect(store.floor('a')).rejects.toThrow(/EISDIR/);
    await expect(store.save(new Map([['a', 11]]))).rejects.toThrow(/EISDIR/);
    // The failed save does not block the next one.
    await rm(path, { recursive: true });
    await store.save(new Map([['a', 12]]));
    expect(await store.floor('a')).toBe(12);
  });

  it('fails a save when the directory cannot be written, and saves again once it can', async () => {
    const store = new FloorStore(dir);
    await store.open();
    // Unusable whoever runs the test (root writes through permissions): a file where the directory was.
    await rm(join(dir, FLOORS_DIR), { recursive: true });
    await writeFile(join(dir, FLOORS_DIR), 'not a directory');
    await expect(store.save(new Map([['a', 5]]))).rejects.toThrow(/ENOTDIR/);
    await rm(join(dir, FLOORS_DIR));
    await mkdir(join(dir, FLOORS_DIR));
    await store.save(new Map([['a', 6]]));
    expect(await store.floor('a')).toBe(6);
  });
});
