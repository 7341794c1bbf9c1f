/**
 * The one way the tools wait: sleep, and poll a condition until it holds. Every wait can be cut
 * short by an AbortSignal (it then rejects with the signal's reason), and a polling wait can give up
 * early with a reason (a process that exited will not become ready).
 */

/** Sleeps `ms`; rejects with `signal.reason` as soon as `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** A wait that ran out of time (not one that was aborted, given up, or whose condition threw). */
export class WaitTimeout extends Error {
  override readonly name = 'WaitTimeout';
}

export interface WaitOptions {
  /** Returns a reason to stop waiting at once (the process died). */
  readonly giveUp?: () => string | undefined;
  /** Between two checks (default 200 ms). */
  readonly intervalMs?: number;
  /** Stops the wait (rejecting with its reason) when it aborts. */
  readonly signal?: AbortSignal;
}

/**
 * Polls `condition` until it holds. Throws after `timeoutMs` ("timed out … waiting for `what`"),
 * when `giveUp` returns a reason, or when `signal` aborts.
 */
export async function waitUntil(
  condition: () => Promise<boolean> | boolean,
  timeoutMs: number,
  what: string,
  options: WaitOptions = {},
): Promise<void> {
  const { giveUp, intervalMs = 200, signal } = options;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    signal?.throwIfAborted();
    if (await condition()) return;
    const reason = giveUp?.();
    if (reason) throw new Error(`gave up waiting for ${what}: ${reason}`);
    if (Date.now() > deadline) throw new WaitTimeout(`timed out after ${formatMs(timeoutMs)} waiting for ${what}`);
    await sleep(intervalMs, signal);
  }
}

/** Whether `condition` holds within `timeoutMs` (polled every `intervalMs`); an error of the condition is thrown. */
export async function holdsWithin(
  condition: () => Promise<boolean> | boolean,
  timeoutMs: number,
  intervalMs = 200,
): Promise<boolean> {
  try {
    await waitUntil(condition, timeoutMs, 'a condition', { intervalMs });
    return true;
  } catch (error) {
    if (error instanceof WaitTimeout) return false;
    throw error;
  }
}

function formatMs(ms: number): string {
  return ms >= 10_000 ? `${Math.round(ms / 1000)} s` : `${ms} ms`;
}
