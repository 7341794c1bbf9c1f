import { PenaltyBox } from './penalty-box';

describe('PenaltyBox', () => {
  it('bars an address for firstMs after its first abuse, then twice as long each time, up to maxMs', () => {
    const box = new PenaltyBox(1000, 8000);
    expect(box.barredFor('a', 0)).toBe(0);
    expect(box.penalize('a', 0)).toBe(1000);
    expect(box.barredFor('a', 500)).toBe(500);
    expect(box.barredFor('a', 1000)).toBe(0);
    expect(box.penalize('a', 1000)).toBe(2000);
    expect(box.penalize('a', 3000)).toBe(4000);
    expect(box.penalize('a', 7000)).toBe(8000);
    expect(box.penalize('a', 15_000)).toBe(8000);
    expect(box.barredFor('b', 15_000)).toBe(0);
  });

  it('starts over after maxMs without abuse', () => {
    const box = new PenaltyBox(1000, 8000);
    box.penalize('a', 0);
    box.penalize('a', 1000);
    expect(box.penalize('a', 20_000)).toBe(1000);
  });
});
