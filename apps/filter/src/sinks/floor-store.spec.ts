import { mkdtemp, readdir, rm } from 'node:fs/promises';
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
});
