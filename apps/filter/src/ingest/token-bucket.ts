/**
 * Records a connection may send: refills continuously at `ratePerSecond`, holds at most one
 * second's worth. Pure; time is passed in so it can be tested without waiting.
 */
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    private readonly ratePerSecond: number,
    now: number,
  ) {
    this.tokens = ratePerSecond;
    this.updatedAt = now;
  }

  /** Takes `count` tokens if there are that many; otherwise takes none and returns false. */
  tryTake(count: number, now: number): boolean {
    this.tokens = Math.min(this.ratePerSecond, this.tokens + ((now - this.updatedAt) * this.ratePerSecond) / 1000);
    this.updatedAt = now;
    if (count > this.tokens) return false;
    this.tokens -= count;
    return true;
  }
}
