/**
 * Lets at most `perSecond` log lines of one kind through per second; the rest are only counted.
 * Pure: the clock is passed in. What a hostile peer can make the app write to its log is bounded
 * this way, while metrics still count every event.
 */
export class LogSampler {
  private windowStart = 0;
  private taken = 0;
  private suppressed = 0;

  constructor(private readonly perSecond: number) {}

  /**
   * Whether to log this event now. When a new one-second window starts and lines were suppressed in
   * the previous one, `summary` receives their count first (so the log says what it left out).
   */
  take(now: number, summary: (suppressed: number) => void): boolean {
    if (now - this.windowStart >= 1000) {
      if (this.suppressed > 0) summary(this.suppressed);
      this.windowStart = now;
      this.taken = 0;
      this.suppressed = 0;
    }
    if (this.taken < this.perSecond) {
      this.taken++;
      return true;
    }
    this.suppressed++;
    return false;
  }
}
