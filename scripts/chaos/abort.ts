/** How a chaos run is cut short: one AbortController whose signal every wait that may stop early takes. */

/** Raised by every wait once the run was aborted (SIGINT, SIGTERM, or the run's maximum duration). */
export class AbortedError extends Error {
  override readonly name = 'AbortedError';
}

const controller = new AbortController();

/** Aborts every current and future wait of this run. */
export function abortRun(reason: string): void {
  if (!controller.signal.aborted) controller.abort(new AbortedError(reason));
}

/** Aborted with the run, an AbortedError as its reason: the signal every abortable wait of the run passes to scripts/kit/wait.ts. */
export function runSignal(): AbortSignal {
  return controller.signal;
}

export function runAborted(): boolean {
  return controller.signal.aborted;
}
