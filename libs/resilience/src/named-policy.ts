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
  timeout,
  TimeoutStrategy,
  wrap,
} from 'cockatiel';
import { isCancellation } from './cancelled.error';
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
    if (options.timeoutMs !== undefined) {
      layers.push(timeout(options.timeoutMs, TimeoutStrategy.Aggressive));
    }
    this.policy = layers.length === 0 ? noop : wrap(...layers);
  }

  /** Runs `fn` under the policy; `signal` aborts on timeout or when the caller gives up. */
  execute<T>(fn: (signal: AbortSignal) => PromiseLike<T> | T, signal?: AbortSignal): Promise<T> {
    // A signal of our own per call: without one, cockatiel hangs every concurrent call's listener
    // on a single shared never-aborted signal (harmless, but it trips Node's leak warning).
    return this.policy.execute((context) => fn(context.signal), signal ?? new AbortController().signal);
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
