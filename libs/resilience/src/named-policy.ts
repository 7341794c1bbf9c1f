import {
  BrokenCircuitError,
  bulkhead,
  circuitBreaker,
  CircuitBreakerPolicy,
  CircuitState,
  ConsecutiveBreaker,
  ExponentialBackoff,
  handleWhen,
  IPolicy,
  noop,
  retry,
  TaskCancelledError,
  wrap,
} from 'cockatiel';
import { CancelledError, isCancellation } from '@dataflow/observability/cancellation';
import type { PolicyOptions } from './policy-options';

/** Hooks through which a policy reports what it does (metrics and logs live outside this file). */
export interface PolicyObserver {
  stateChanged(policy: string, state: CircuitState): void;
  retrying(policy: string, attempt: number, delayMs: number, error: unknown): void;
}

/**
 * One dependency's policy, built once: retry (outermost) → circuit breaker → bulkhead → timeout
 * (innermost), so every attempt is timed out on its own, counted by the breaker, and retried with
 * exponential backoff and jitter (cockatiel's decorrelated jitter).
 *
 * The timeout is this class's own rather than cockatiel's timeout policy: that one rejects with
 * the same TaskCancelledError whether the time ran out or the caller gave up, so the breaker would
 * count a caller's cancellation (a consumer session ending mid-write) as the dependency failing.
 * Here a timeout rejects with TaskCancelledError (a failure) and a caller's abort with
 * CancelledError (never retried, never counted).
 */
export class NamedPolicy {
  readonly breaker: CircuitBreakerPolicy | undefined;
  private readonly policy: IPolicy;

  constructor(
    readonly name: string,
    readonly options: PolicyOptions,
    observer: PolicyObserver,
  ) {
    const layers: IPolicy[] = [];
    // A cancelled call says nothing about the dependency: never retried, never counted.
    const isFailure = (error: unknown): boolean => !isCancellation(error) && (options.isFailure?.(error) ?? true);
    if (options.retry) {
      const { whileOpen = false } = options.retry;
      // cockatiel 4 hands the predicate whatever was thrown, not only Error instances.
      const retryable = (error: unknown): boolean =>
        error instanceof BrokenCircuitError ? whileOpen : isFailure(error);
      const retryPolicy = retry(handleWhen(retryable), {
        maxAttempts: options.retry.maxAttempts,
        backoff: new ExponentialBackoff({
          initialDelay: options.retry.initialDelayMs,
          maxDelay: options.retry.maxDelayMs,
        }),
      });
      retryPolicy.onRetry((event) => {
        const error = 'error' in event ? event.error : new Error('retry on result');
        observer.retrying(name, event.attempt, event.delay, error);
      });
      layers.push(retryPolicy);
    }
    if (options.breaker) {
      this.breaker = circuitBreaker(handleWhen(isFailure), {
        halfOpenAfter: options.breaker.halfOpenAfterMs,
        breaker: new ConsecutiveBreaker(options.breaker.consecutiveFailures),
      });
      this.breaker.onStateChange((state) => observer.stateChanged(name, state));
      layers.push(this.breaker);
    }
    if (options.bulkhead) {
      layers.push(bulkhead(options.bulkhead.limit, options.bulkhead.queue));
    }
    this.policy = layers.length === 0 ? noop : wrap(...layers);
  }

  /** Runs `fn` under the policy; the signal `fn` gets aborts on timeout or when the caller gives up. */
  execute<T>(fn: (signal: AbortSignal) => PromiseLike<T> | T, signal?: AbortSignal): Promise<T> {
    const timeoutMs = this.options.timeoutMs;
    const attempt =
      timeoutMs === undefined
        ? (attemptSignal: AbortSignal) => withCancellation(fn, attemptSignal)
        : (attemptSignal: AbortSignal) => withTimeout(fn, attemptSignal, timeoutMs);
    // A signal of our own per call: without one, cockatiel hangs every concurrent call's listener
    // on a single shared never-aborted signal (harmless, but it trips Node's leak warning).
    return this.policy.execute((context) => attempt(context.signal), signal ?? new AbortController().signal);
  }

  get state(): CircuitState {
    return this.breaker?.state ?? CircuitState.Closed;
  }

  /** True while calls are refused without being tried (open or isolated breaker). */
  get isOpen(): boolean {
    const state = this.state;
    return state === CircuitState.Open || state === CircuitState.Isolated;
  }
}

/**
 * One attempt that gives up after `timeoutMs` (TaskCancelledError, a failure of the dependency) or
 * as soon as `outer` aborts (CancelledError: the caller gave up). Either way `fn`'s signal aborts, so
 * the work in flight can stop, and the attempt settles at once without waiting for it.
 */
function withTimeout<T>(
  fn: (signal: AbortSignal) => PromiseLike<T> | T,
  outer: AbortSignal,
  timeoutMs: number,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const controller = new AbortController();
    const timer = setTimeout(() => {
      const error = new TaskCancelledError(`Operation timed out after ${timeoutMs}ms`);
      controller.abort(error);
      finish(() => reject(error));
    }, timeoutMs);
    const onAbort = (): void => {
      const error = cancelledBy(outer);
      controller.abort(error);
      finish(() => reject(error));
    };
    let settled = false;
    const finish = (settle: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      outer.removeEventListener('abort', onAbort);
      settle();
    };
    if (outer.aborted) {
      onAbort();
      return;
    }
    outer.addEventListener('abort', onAbort, { once: true });
    Promise.resolve()
      .then(() => fn(controller.signal))
      .then(
        (value) => finish(() => resolve(value)),
        // Whatever fn threw goes on unchanged, as it would without a timeout (the predicates judge it).
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
        (error: unknown) => finish(() => reject(error)),
      );
  });
}

/** An attempt without a timeout: still, a caller's abort surfaces as CancelledError, never counted. */
async function withCancellation<T>(fn: (signal: AbortSignal) => PromiseLike<T> | T, signal: AbortSignal): Promise<T> {
  try {
    return await fn(signal);
  } catch (error) {
    if (signal.aborted && !isCancellation(error)) throw cancelledBy(signal);
    throw error;
  }
}

function cancelledBy(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (isCancellation(reason)) return reason as Error;
  return new CancelledError('the caller gave up', { cause: reason });
}
