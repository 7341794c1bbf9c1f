/**
 * The caller gave up on the work (its AbortSignal fired with this as the reason): not a failure of
 * the dependency, so a policy neither retries it nor counts it against its breaker.
 */
export class CancelledError extends Error {
  override readonly name: string = 'CancelledError';
}

/** A cancellation, ours or the platform's (`AbortSignal.throwIfAborted` without a reason). */
export function isCancellation(error: unknown): boolean {
  return error instanceof CancelledError || (error instanceof Error && error.name === 'AbortError');
}
