import { prefetchFor } from './held-records';

describe('the held bound', () => {
  it('derives the prefetch from the bound and the largest message, unless given', () => {
    expect(prefetchFor(200_000, undefined)).toBe(20);
    expect(prefetchFor(10_000, undefined)).toBe(1);
    expect(prefetchFor(200_000, 7)).toBe(7);
  });
});
