import { SourceEviction } from './source-eviction';

function setUp(maxSources: number, idleMs: number, busy = new Set<string>()) {
  const persisted: string[][] = [];
  const forgotten: string[] = [];
  const eviction = new SourceEviction(
    { maxSources, idleMs, sweepMs: 1000 },
    {
      isClean: (source) => !busy.has(source),
      persist: (sources) => {
        persisted.push([...sources]);
        return Promise.resolve();
      },
      forget: (source) => forgotten.push(source),
      sweepFailed: () => undefined,
    },
  );
  return { eviction, persisted, forgotten };
}

/** An eviction whose floor writes wait until `release` is called (a sweep caught mid-write). */
function setUpHeldPersist() {
  let release: () => void = () => undefined;
  const forgotten: string[] = [];
  const eviction = new SourceEviction(
    { maxSources: 100, idleMs: 1000, sweepMs: 1000 },
    {
      isClean: () => true,
      persist: () => new Promise<void>((resolve) => (release = resolve)),
      forget: (source) => forgotten.push(source),
      sweepFailed: () => undefined,
    },
  );
  return { eviction, forgotten, release: () => release() };
}

describe('SourceEviction', () => {
  it('evicts the least recently used clean sources beyond the count, floors first', async () => {
    const busy = new Set(['a']);
    const { eviction, persisted, forgotten } = setUp(2, 60_000, busy);
    for (const [i, source] of ['a', 'b', 'c', 'd'].entries()) eviction.touch(source, 1000 + i);
    eviction.touch('b', 2000); // used again: now the newest
    expect(await eviction.sweep(3000)).toBe(2);
    expect(persisted).toEqual([['c', 'd']]);
    expect(forgotten).toEqual(['c', 'd']);
    expect(eviction.size).toBe(2);
  });

  it('evicts clean sources idle too long, whatever the count, and keeps the others', async () => {
    const { eviction, forgotten } = setUp(100, 1000);
    eviction.touch('old', 0);
    eviction.touch('new', 5000);
    expect(await eviction.sweep(5500)).toBe(1);
    expect(forgotten).toEqual(['old']);
  });

  it('keeps a source used again while its floor was being written', async () => {
    const { eviction, forgotten, release } = setUpHeldPersist();
    eviction.touch('a', 0);
    const sweeping = eviction.sweep(5000);
    eviction.touch('a', 5001);
    release();
    expect(await sweeping).toBe(0);
    expect(forgotten).toEqual([]);
  });

  it('keeps a source used while its floor was being written even within the same millisecond', async () => {
    const { eviction, forgotten, release } = setUpHeldPersist();
    eviction.touch('a', 0);
    eviction.touch('b', 0);
    const sweeping = eviction.sweep(5000);
    eviction.touch('a', 0); // same time stamp as before (or a clock stepped back)
    release();
    expect(await sweeping).toBe(1);
    expect(forgotten).toEqual(['b']);
  });

  it('forgets nothing when the floors cannot be written, and tries again at the next sweep', async () => {
    let failing = true;
    const forgotten: string[] = [];
    const eviction = new SourceEviction(
      { maxSources: 100, idleMs: 1000, sweepMs: 1000 },
      {
        isClean: () => true,
        persist: () => (failing ? Promise.reject(new Error('ENOSPC: no space left on device')) : Promise.resolve()),
        forget: (source) => forgotten.push(source),
        sweepFailed: () => undefined,
      },
    );
    eviction.touch('a', 0);
    await expect(eviction.sweep(5000)).rejects.toThrow(/ENOSPC/);
    expect(forgotten).toEqual([]);
    expect(eviction.size).toBe(1);
    failing = false;
    expect(await eviction.sweep(6000)).toBe(1);
    expect(forgotten).toEqual(['a']);
  });

  it('evicts past the count in steps, until the count is back to its bound', async () => {
    const { eviction, persisted, forgotten } = setUp(100, 60_000);
    for (let i = 0; i < 12_000; i++) eviction.touch(`s-${i}`, 1000);
    expect(await eviction.sweep(2000)).toBe(11_900);
    expect(persisted.map((step) => step.length)).toEqual([5000, 5000, 1900]);
    expect(forgotten[0]).toBe('s-0');
    expect(eviction.size).toBe(100);
  });

  it('sweeps as soon as new sources take the count past its bound, not only on the timer', async () => {
    const { eviction, forgotten } = setUp(100, 60_000);
    eviction.start();
    try {
      for (let i = 0; i < 150; i++) eviction.touch(`s-${i}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(forgotten.length).toBeGreaterThanOrEqual(50);
      expect(eviction.size).toBeLessThanOrEqual(100);
    } finally {
      eviction.stop();
    }
  });

  it('does nothing while nothing is old enough or over the count', async () => {
    const { eviction, persisted } = setUp(10, 60_000);
    eviction.touch('a', 1000);
    expect(await eviction.sweep(2000)).toBe(0);
    expect(persisted).toEqual([]);
  });
});
