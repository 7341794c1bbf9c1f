import { TokenBucket } from './token-bucket';

describe('TokenBucket', () => {
  it('allows one second of burst, then refuses until time refills it', () => {
    const bucket = new TokenBucket(100, 0);
    expect(bucket.tryTake(60, 0)).toBe(true);
    expect(bucket.tryTake(40, 0)).toBe(true);
    expect(bucket.tryTake(1, 0)).toBe(false);
    expect(bucket.tryTake(10, 50)).toBe(false); // 5 tokens back after 50 ms
    expect(bucket.tryTake(5, 50)).toBe(true);
    expect(bucket.tryTake(100, 1050)).toBe(true);
  });

  it('takes nothing from a refused request', () => {
    const bucket = new TokenBucket(10, 0);
    expect(bucket.tryTake(11, 0)).toBe(false);
    expect(bucket.tryTake(10, 0)).toBe(true);
  });

  it('never holds more than one second of allowance, however long it idles', () => {
    const bucket = new TokenBucket(10, 0);
    expect(bucket.tryTake(10, 3_600_000)).toBe(true);
    expect(bucket.tryTake(1, 3_600_000)).toBe(false);
  });

  it('holds a larger burst when given a capacity', () => {
    const bucket = new TokenBucket(10, 0, 100);
    expect(bucket.tryTake(100, 0)).toBe(true);
    expect(bucket.tryTake(1, 0)).toBe(false);
    expect(bucket.tryTake(10, 1000)).toBe(true);
    expect(bucket.tryTake(100, 3_600_000)).toBe(true);
    expect(bucket.tryTake(1, 3_600_000)).toBe(false);
  });

  it('says how long until a take would succeed', () => {
    const bucket = new TokenBucket(1000, 0);
    expect(bucket.msUntil(500, 0)).toBe(0);
    expect(bucket.tryTake(1000, 0)).toBe(true);
    expect(bucket.msUntil(500, 0)).toBe(500);
    expect(bucket.msUntil(500, 200)).toBe(300);
    // More than the bucket holds: as long as filling it takes.
    expect(bucket.msUntil(5000, 200)).toBe(800);
    expect(bucket.tryTake(500, 700)).toBe(true);
  });
});
