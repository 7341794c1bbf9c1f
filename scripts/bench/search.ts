/** A step of a maximum-rate search: the rate it ran at and how it went. */
export interface SearchStep {
  readonly targetRate: number;
  readonly sustainable: boolean;
  /** False: the step's check failed (something lost or stored twice): the search stops, no figure. */
  readonly valid: boolean;
}

export interface SearchResult<S extends SearchStep> {
  /** The highest sustained step. */
  readonly best?: S;
  /** The lowest step that failed: its reasons say what gave out first. */
  readonly failed?: S;
}

/** Far above any rate two cores could sustain: a search whose every step passed stops here. */
const SAFETY_CAP = 400_000;
/** The bisection stops once the failed rate is within this fraction above the sustained one. */
const PRECISION = 0.1;

export function roundRate(rate: number): number {
  return rate < 100 ? Math.round(rate) : Math.round(rate / 50) * 50;
}

/**
 * The real maximum: doubles the rate while the pipeline keeps up (halves it while it does not),
 * then bisects between the last sustained and the first failed rate until they are within
 * PRECISION of each other. Stops early after `maxSteps` steps, at SAFETY_CAP, or at an invalid step.
 */
export async function searchMaximum<S extends SearchStep>(
  step: (rate: number) => Promise<S>,
  startRate: number,
  maxSteps: number,
): Promise<SearchResult<S>> {
  let best: S | undefined;
  let failed: S | undefined;
  let rate = roundRate(startRate);
  for (let done = 0; done < maxSteps && rate >= 100 && rate <= SAFETY_CAP; done++) {
    const result = await step(rate);
    if (!result.valid) break;
    if (result.sustainable) best = result;
    else failed = result;
    if (best && failed) {
      if (failed.targetRate <= best.targetRate * (1 + PRECISION)) break;
      rate = roundRate((best.targetRate + failed.targetRate) / 2);
      if (rate <= best.targetRate || rate >= failed.targetRate) break;
    } else {
      rate = roundRate(best ? rate * 2 : rate / 2);
    }
  }
  return { best, failed };
}
