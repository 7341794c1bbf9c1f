/** How one dependency is protected. Every part is optional; absent parts are not applied. */
export interface PolicyOptions {
  /** Each attempt is abandoned after this long (cockatiel aggressive timeout). */
  readonly timeoutMs?: number;
  readonly retry?: {
    /** Attempts after the first; `Infinity` for "until it works" (the caller holds the work). */
    readonly maxAttempts: number;
    readonly initialDelayMs: number;
    readonly maxDelayMs: number;
    /** Whether to keep retrying (with backoff) while the breaker is open. */
    readonly whileOpen?: boolean;
  };
  readonly breaker?: {
    /** Consecutive failures that open the breaker. */
    readonly consecutiveFailures: number;
    /** Time an open breaker waits before letting one trial call through (half-open). */
    readonly halfOpenAfterMs: number;
  };
  /**
   * Which errors are the dependency's fault (count against the breaker, are retried). Others, such
   * as a record the database can never accept, pass straight through. Default: every error.
   */
  readonly isFailure?: (error: unknown) => boolean;
  /** Maximum concurrent executions and queued ones beyond that. */
  readonly bulkhead?: { readonly limit: number; readonly queue: number };
}

export type PolicyCatalogue = Readonly<Record<string, PolicyOptions>>;
