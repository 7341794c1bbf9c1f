/**
 * An allowance (records, bytes, frames, connections): refills continuously at `ratePerSecond`,
 * holds at most `capacity` (one second's worth unless told otherwise), starts full. Pure; time is
 * passed in so it can be tested without waiting.
 */
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    private readonly ratePerSecond: number,
    now: number,
    private readonly capacity = ratePerSecond,
  ) {
    this.tokens = capacity;
    this.updatedAt = now;
  }

  /** Takes `count` tokens if there are that many; otherwise takes none and returns false. */
  tryTake(count: number, now: number): boolean {
    this.refill(now);
    if (count > this.tokens) return false;
    this.tokens -= count;
    return true;
  }

  /** Milliseconds until `count` tokens (at most a full bucket) are there; 0 if they are now. */
  msUntil(count: number, now: number): number {
    this.refill(now);
    const missing = Math.min(count, this.capacity) - this.tokens;
    return missing <= 0 ? 0 : (missing * 1000) / this.ratePerSecond;
  }

  private refill(now: number): void {
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.updatedAt) * this.ratePerSecond) / 1000);
    this.updatedAt = now;
  }
}
