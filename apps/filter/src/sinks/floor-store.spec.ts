import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FLOORS_FILE, FloorStore } from './floor-store';

let dir: string;
const stores: FloorStore[] = [];

function store(): FloorStore {
  const opened = new FloorStore(dir);
  stores.push(opened);
  return opened;
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dataflow-floors-'));
});

afterEach(async () => {
  for (const opened of stores.splice(0)) opened.close();
  await rm(dir, { recursive: true, force: true });
});

describe('FloorStore', () => {
  it('keeps floors across a restart, and knows the sources it never held', async () => {
    const first = store();
    expect(first.open()).toBe(0);
    // More than one commit's worth.
    const floors = new Map(Array.from({ length: 5000 }, (_, i) => [`source-${i}`, i + 1] as [string, number]));
    await first.save(floors);
    expect(first.floor('source-17')).toBe(18);
    first.close();
    const reopened = store();
    expect(reopened.open()).toBe(5000);
    expect(reopened.floor('source-4999')).toBe(5000);
    expect(reopened.floor('never-seen')).toBeUndefined();
  });

  it('never moves a floor back', async () => {
    const opened = store();
    opened.open();
    await opened.save(new Map([['a', 10]]));
    await opened.save(new Map([['a', 4]]));
    expect(opened.floor('a')).toBe(10);
    await opened.save(new Map([['a', 12]]));
    expect(opened.floor('a')).toBe(12);
  });

  it('refuses to open a file that is not the store, naming it', async () => {
    await writeFile(join(dir, FLOORS_FILE), 'not a database, not at all: '.repeat(200));
    expect(() => store().open()).toThrow(/the floor store .*\.floors\.sqlite cannot be used/);
  });

  it('fails a lookup or a save when it is not open, rather than answer "never evicted"', async () => {
    const opened = store();
    expect(() => opened.floor('a')).toThrow(/is not open/);
    await expect(opened.save(new Map([['a', 1]]))).rejects.toThrow(/is not open/);
  });

  it('a failed save does not block the next one', async () => {
    const opened = store();
    opened.open();
    opened.close();
    await expect(opened.save(new Map([['a', 5]]))).rejects.toThrow(/is not open/);
    opened.open();
    await opened.save(new Map([['a', 6]]));
    expect(opened.floor('a')).toBe(6);
  });

  it('fails to open where the store cannot be created', async () => {
    await mkdir(join(dir, FLOORS_FILE));
    expect(() => store().open()).toThrow(/cannot be used/);
  });
});
