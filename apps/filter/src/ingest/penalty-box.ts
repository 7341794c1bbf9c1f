/**
 * Remote addresses whose last connection was closed for abuse (it ignored a bound: did not read,
 * sent a frame too deep, kept sending past its rate limit). Each such close bars the address from
 * opening new connections for a while, twice as long each time (from `firstMs` up to `maxMs`); an
 * address without abuse for `maxMs` starts over. Without it, a client would simply reconnect after
 * every close and get fresh allowances each time. Pure: the clock is passed in.
 */
export class PenaltyBox {
  private readonly entries = new Map<string, { until: number; durationMs: number; lastAt: number }>();

  constructor(
    private readonly firstMs: number,
    private readonly maxMs: number,
  ) {}

  penalize(remote: string, now: number): number {
    const previous = this.entries.get(remote);
    const fresh = previous === undefined || now - previous.lastAt > this.maxMs;
    const durationMs = fresh ? this.firstMs : Math.min(this.maxMs, previous.durationMs * 2);
    this.entries.set(remote, { until: now + durationMs, durationMs, lastAt: now });
    if (this.entries.size > 10_000) this.prune(now);
    return durationMs;
  }

  /** Milliseconds `remote` must still wait, or 0. */
  barredFor(remote: string, now: number): number {
    const entry = this.entries.get(remote);
    return entry === undefined ? 0 : Math.max(0, entry.until - now);
  }

  /** Forgets addresses whose penalty and memory have both run out (bounds the map itself). */
  private prune(now: number): void {
    for (const [remote, entry] of this.entries) if (now - entry.lastAt > this.maxMs) this.entries.delete(remote);
  }
}
