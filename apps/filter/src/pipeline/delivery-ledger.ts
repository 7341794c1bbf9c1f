import type { RouteDecision } from '../routing/record-router';

/** Routes remembered per source at most (a sender that keeps failing cannot grow this without end). */
const MAX_REMEMBERED_ROUTES = 100_000;

interface SourceEntry {
  floor: number;
  /** Routes of records above the floor whose hand-off failed: a resend keeps them. */
  readonly routes: Map<number, RouteDecision>;
}

/**
 * Per source, how far records are handed on: the floor (every record at or below it reached every
 * sink of its route; a record at or below it is a redelivered duplicate, CONTRACT.md §1) and the
 * route of each record above it whose hand-off failed. A resend keeps the route its record had on
 * the first attempt, so a rule change between a partial failure and the resend cannot send a
 * record to a sink after later records already went there, nor leave it in none. The floor starts
 * from what the file sink persisted (`persistedFloor`), the routes from nothing.
 */
export class DeliveryLedger {
  private readonly sources = new Map<string, SourceEntry>();

  constructor(private readonly persistedFloor: (source: string) => number) {}

  knows(source: string): boolean {
    return this.sources.has(source);
  }

  /** No route remembered for the source: nothing of it is waiting to be resent. */
  isClean(source: string): boolean {
    return (this.sources.get(source)?.routes.size ?? 0) === 0;
  }

  forget(source: string): void {
    this.sources.delete(source);
  }

  floor(source: string): number {
    return this.entry(source).floor;
  }

  routeOf(source: string, seq: number): RouteDecision | undefined {
    return this.sources.get(source)?.routes.get(seq);
  }

  /** A hand-off failed: its records keep these routes until they are handed on. */
  remember(source: string, seqs: readonly number[], decisions: readonly RouteDecision[]): void {
    const { floor, routes } = this.entry(source);
    seqs.forEach((seq, i) => {
      const decision = decisions[i];
      if (seq > floor && decision && !routes.has(seq) && routes.size < MAX_REMEMBERED_ROUTES) routes.set(seq, decision);
    });
  }

  /** Every record up to `floor` reached all its sinks; false when the floor was there already. */
  advance(source: string, floor: number): boolean {
    const entry = this.entry(source);
    if (floor <= entry.floor) return false;
    entry.floor = floor;
    for (const seq of entry.routes.keys()) if (seq <= floor) entry.routes.delete(seq);
    return true;
  }

  private entry(source: string): SourceEntry {
    let entry = this.sources.get(source);
    if (!entry) this.sources.set(source, (entry = { floor: this.persistedFloor(source), routes: new Map() }));
    return entry;
  }
}
