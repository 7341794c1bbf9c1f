import { sleep as sleepUnless, waitUntil as poll } from '../kit/wait';

/** Raised by every wait once the run was aborted (SIGINT, SIGTERM, or the run's maximum duration). */
export class AbortedError extends Error {
  override readonly name = 'AbortedError';
}

const controller = new AbortController();

/** Aborts every current and future wait of this run. */
export function abortRun(reason: string): void {
  if (!controller.signal.aborted) controller.abort(new AbortedError(reason));
}

/** Aborted with the run (an AbortedError as its reason). */
export function runSignal(): AbortSignal {
  return controller.signal;
}

export function runAborted(): boolean {
  return controller.signal.aborted;
}

export function throwIfAborted(): void {
  if (controller.signal.aborted) throw controller.signal.reason as Error;
}

/** Sleeps `ms`, or rejects with AbortedError as soon as the run is aborted. */
export function sleep(ms: number): Promise<void> {
  return sleepUnless(ms, controller.signal);
}

/** Sleeps `ms` even while the run is aborted (for the clean-up path). */
export function pause(ms: number): Promise<void> {
  return sleepUnless(ms);
}

export interface WaitOptions {
  /** Returns a reason to stop waiting at once (e.g. the process died). */
  readonly giveUp?: () => string | undefined;
  readonly intervalMs?: number;
  /** false: keeps waiting after the run was aborted (for restores on the clean-up path). */
  readonly abortable?: boolean;
}

/**
 * Polls `condition` until it holds (scripts/kit/wait.ts). Throws after `timeoutMs`, when `giveUp`
 * returns a reason, or (unless `abortable` is false) when the run is aborted.
 */
export function waitUntil(
  condition: () => Promise<boolean> | boolean,
  timeoutMs: number,
  what: string,
  options: WaitOptions = {},
): Promise<void> {
  const { abortable = true, ...rest } = options;
  return poll(condition, timeoutMs, what, { ...rest, signal: abortable ? controller.signal : undefined });
}
