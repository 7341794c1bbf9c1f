import { inParallel } from './in-parallel';

/** A task that finishes when told to, recording how many ran at once. */
function gate() {
  const open: Array<() => void> = [];
  let running = 0;
  let most = 0;
  const started: number[] = [];
  const task = async (item: number): Promise<void> => {
    started.push(item);
    running++;
    most = Math.max(most, running);
    await new Promise<void>((resolve) => open.push(resolve));
    running--;
    if (item < 0) throw new Error(`task ${item} failed`);
  };
  const release = async (): Promise<void> => {
    while (open.length > 0) {
      open.shift()?.();
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  return { task, release, started, most: () => most, running: () => running };
}

describe('inParallel', () => {
  it('runs every item, never more than the limit at once, starting them in order', async () => {
    const g = gate();
    const done = inParallel([1, 2, 3, 4, 5, 6, 7], 3, g.task);
    await g.release();
    await done;
    expect(g.started).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(g.most()).toBe(3);
  });

  it('after a failure starts nothing new, waits for the tasks in flight, then rejects with the first error', async () => {
    const g = gate();
    let settled = false;
    const done = inParallel([-1, 2, 3, 4, 5], 3, g.task).finally(() => {
      settled = true;
    });
    const outcome = expect(done).rejects.toThrow('task -1 failed');
    // -1 fails first; 2 and 3 are in flight and must have finished before the call settles.
    await g.release();
    await outcome;
    expect(settled).toBe(true);
    expect(g.running()).toBe(0);
    expect(g.started).toEqual([-1, 2, 3]);
  });

  it('runs nothing for no items', async () => {
    let calls = 0;
    await inParallel([], 4, () => {
      calls++;
      return Promise.resolve();
    });
    expect(calls).toBe(0);
  });
});
