import { LogSampler } from './log-sampler';

describe('LogSampler', () => {
  it('lets perSecond lines through per second and reports what it left out', () => {
    const sampler = new LogSampler(2);
    const summaries: number[] = [];
    const take = (now: number): boolean => sampler.take(now, (n) => summaries.push(n));
    expect([take(1000), take(1001), take(1002), take(1500)]).toEqual([true, true, false, false]);
    expect(summaries).toEqual([]);
    expect(take(2000)).toBe(true);
    expect(summaries).toEqual([2]);
    expect(take(3500)).toBe(true);
    expect(summaries).toEqual([2]);
  });

  it('with 0 lets nothing through', () => {
    const sampler = new LogSampler(0);
    expect(sampler.take(5000, () => undefined)).toBe(false);
  });
});
