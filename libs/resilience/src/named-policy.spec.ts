import { afterEach, beforeEach, jest } from '@jest/globals';
import { BrokenCircuitError, BulkheadRejectedError, CircuitState, TaskCancelledError } from 'cockatiel';
import { NamedPolicy, PolicyObserver } from './named-policy';
import { CancelledError, isCancellation } from '@dataflow/observability/cancellation';
import type { PolicyOptions } from './policy-options';

interface Recorder extends PolicyObserver {
  readonly states: CircuitState[];
  readonly retries: { policy: string; attempt: number; delayMs: number; error: unknown; at: number }[];
}

function recorder(): Recorder {
  const states: CircuitState[] = [];
  const retries: Recorder['retries'] = [];
  return {
    states,
    retries,
    stateChanged(_policy, state) {
      states.push(state);
    },
    retrying(policy, attempt, delayMs, error) {
      retries.push({ policy, attempt, delayMs, error, at: Date.now() });
    },
  };
}

type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** Observes the outcome at once, so a rejection is never "unhandled" while timers are advanced. */
function settle<T>(promise: Promise<T>): Promise<Settled<T>> {
  return promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
}

async function errorOf(promise: Promise<unknown>): Promise<unknown> {
  const outcome = await settle(promise);
  if (outcome.ok) throw new Error('expected a rejection');
  return outcome.error;
}

class DownError extends Error {
  constructor(readonly n = 0) {
    super(`down ${n}`);
  }
}

beforeEach(() => {
  jest.useFakeTimers();
});

afterEach(() => {
  jest.restoreAllMocks();
  jest.useRealTimers();
});

describe('NamedPolicy: circuit breaker', () => {
  const options: PolicyOptions = { breaker: { consecutiveFailures: 3, halfOpenAfterMs: 1000 } };

  async function openIt(policy: NamedPolicy, fn: () => Promise<never>): Promise<void> {
    for (let i = 0; i < 3; i++) expect(await errorOf(policy.execute(fn))).toBeInstanceOf(DownError);
  }

  it('opens after N consecutive failures; then refuses without calling fn', async () => {
    const observer = recorder();
    const policy = new NamedPolicy('db', options, observer);
    const fn = jest.fn(() => Promise.reject(new DownError()));
    expect(policy.state).toBe(CircuitState.Closed);
    expect(await errorOf(policy.execute(fn))).toBeInstanceOf(DownError);
    expect(await errorOf(policy.execute(fn))).toBeInstanceOf(DownError);
    expect(policy.isOpen).toBe(false);
    expect(await errorOf(policy.execute(fn))).toBeInstanceOf(DownError);
    expect(policy.state).toBe(CircuitState.Open);
    expect(policy.isOpen).toBe(true);
    expect(fn).toHaveBeenCalledTimes(3);

    for (let i = 0; i < 5; i++) expect(await errorOf(policy.execute(fn))).toBeInstanceOf(BrokenCircuitError);
    expect(fn).toHaveBeenCalledTimes(3);
    expect(observer.states).toEqual([CircuitState.Open]);
  });

  it('a success in between resets the consecutive count', async () => {
    const policy = new NamedPolicy('db', options, recorder());
    const fail = () => Promise.reject(new DownError());
    await errorOf(policy.execute(fail));
    await errorOf(policy.execute(fail));
    await policy.execute(() => Promise.resolve('ok'));
    await errorOf(policy.execute(fail));
    await errorOf(policy.execute(fail));
    expect(policy.state).toBe(CircuitState.Closed);
    await errorOf(policy.execute(fail));
    expect(policy.state).toBe(CircuitState.Open);
  });

  it('goes half-open after halfOpenAfterMs and a successful trial closes it', async () => {
    const observer = recorder();
    const policy = new NamedPolicy('db', options, observer);
    await openIt(policy, () => Promise.reject(new DownError()));

    await jest.advanceTimersByTimeAsync(999);
    const early = jest.fn(() => Promise.resolve('early'));
    expect(await errorOf(policy.execute(early))).toBeInstanceOf(BrokenCircuitError);
    expect(early).not.toHaveBeenCalled();

    await jest.advanceTimersByTimeAsync(1);
    const trial = jest.fn(() => Promise.resolve('recovered'));
    await expect(policy.execute(trial)).resolves.toBe('recovered');
    expect(trial).toHaveBeenCalledTimes(1);
    expect(policy.state).toBe(CircuitState.Closed);
    expect(observer.states).toEqual([CircuitState.Open, CircuitState.HalfOpen, CircuitState.Closed]);

    await expect(policy.execute(() => Promise.resolve('normal'))).resolves.toBe('normal');
  });

  it('only one trial goes through while half-open; others wait for its outcome', async () => {
    const policy = new NamedPolicy('db', options, recorder());
    await openIt(policy, () => Promise.reject(new DownError()));
    await jest.advanceTimersByTimeAsync(1000);

    let release!: (value: string) => void;
    const trialFn = jest.fn(() => new Promise<string>((resolve) => (release = resolve)));
    const trial = settle(policy.execute(trialFn));
    expect(policy.state).toBe(CircuitState.HalfOpen);
    const other = jest.fn(() => Promise.resolve('other'));
    const waiting = settle(policy.execute(other));
    await Promise.resolve();
    expect(other).not.toHaveBeenCalled();
    release('trial');
    expect(await trial).toEqual({ ok: true, value: 'trial' });
    expect(await waiting).toEqual({ ok: true, value: 'other' });
    expect(trialFn).toHaveBeenCalledTimes(1);
  });

  it('a failed trial re-opens it for another halfOpenAfterMs', async () => {
    const observer = recorder();
    const policy = new NamedPolicy('db', options, observer);
    await openIt(policy, () => Promise.reject(new DownError()));
    await jest.advanceTimersByTimeAsync(1000);

    const failingTrial = jest.fn(() => Promise.reject(new DownError(1)));
    expect(await errorOf(policy.execute(failingTrial))).toBeInstanceOf(DownError);
    expect(failingTrial).toHaveBeenCalledTimes(1);
    expect(policy.state).toBe(CircuitState.Open);

    const fn = jest.fn(() => Promise.resolve('x'));
    expect(await errorOf(policy.execute(fn))).toBeInstanceOf(BrokenCircuitError);
    expect(fn).not.toHaveBeenCalled();

    await jest.advanceTimersByTimeAsync(1000);
    await expect(policy.execute(fn)).resolves.toBe('x');
    expect(observer.states).toEqual([
      CircuitState.Open,
      CircuitState.HalfOpen,
      CircuitState.Open,
      CircuitState.HalfOpen,
      CircuitState.Closed,
    ]);
  });

  it('reports state transitions with the policy name', async () => {
    const names: string[] = [];
    const policy = new NamedPolicy(
      'rabbitmq',
      { breaker: { consecutiveFailures: 1, halfOpenAfterMs: 10 } },
      { stateChanged: (name) => names.push(name), retrying: () => undefined },
    );
    await errorOf(policy.execute(() => Promise.reject(new DownError())));
    expect(names).toEqual(['rabbitmq']);
  });
});

describe('NamedPolicy: retry', () => {
  it('retries with growing backoff and gives up after maxAttempts, rethrowing the last error', async () => {
    jest.spyOn(Math, 'random').mockReturnValue(0.5);
    const observer = recorder();
    const policy = new NamedPolicy(
      'pg',
      { retry: { maxAttempts: 3, initialDelayMs: 100, maxDelayMs: 10_000 } },
      observer,
    );
    let calls = 0;
    const outcome = settle(
      policy.execute(() => {
        calls++;
        return Promise.reject(new DownError(calls));
      }),
    );
    await jest.advanceTimersByTimeAsync(0);
    expect(calls).toBe(1);

    for (let attempt = 1; attempt <= 3; attempt++) {
      const retry = observer.retries[attempt - 1];
      if (retry === undefined) throw new Error(`no retry ${attempt} reported`);
      // Not retried before the backoff delay (counted from when it was scheduled) has passed...
      const due = retry.at + Math.floor(retry.delayMs);
      await jest.advanceTimersByTimeAsync(due - 1 - Date.now());
      expect(calls).toBe(attempt);
      // ...and retried once it has.
      await jest.advanceTimersByTimeAsync(2);
      expect(calls).toBe(attempt + 1);
    }

    const result = await outcome;
    expect(result.ok).toBe(false);
    expect(!result.ok && result.error).toEqual(new DownError(4));
    expect(calls).toBe(4);
    expect(observer.retries.map((r) => r.attempt)).toEqual([1, 2, 3]);
    expect(observer.retries.map((r) => r.policy)).toEqual(['pg', 'pg', 'pg']);
    expect(observer.retries.map((r) => (r.error as DownError).n)).toEqual([1, 2, 3]);
    const delays = observer.retries.map((r) => r.delayMs);
    expect(delays[0]).toBeGreaterThan(0);
    expect(delays[1]).toBeGreaterThan(delays[0] as number);
    expect(delays[2]).toBeGreaterThan(delays[1] as number);
  });

  it('caps the backoff at maxDelayMs', async () => {
    jest.spyOn(Math, 'random').mockReturnValue(0.9);
    const observer = recorder();
    const policy = new NamedPolicy('pg', { retry: { maxAttempts: 6, initialDelayMs: 100, maxDelayMs: 150 } }, observer);
    const outcome = settle(policy.execute(() => Promise.reject(new DownError())));
    await jest.advanceTimersByTimeAsync(10_000);
    expect((await outcome).ok).toBe(false);
    expect(observer.retries).toHaveLength(6);
    for (const retry of observer.retries) expect(retry.delayMs).toBeLessThanOrEqual(150);
    expect(Math.max(...observer.retries.map((r) => r.delayMs))).toBe(150);
  });

  it('returns the value once a retry succeeds', async () => {
    const observer = recorder();
    const policy = new NamedPolicy('pg', { retry: { maxAttempts: 5, initialDelayMs: 10, maxDelayMs: 50 } }, observer);
    let calls = 0;
    const outcome = settle(
      policy.execute(() => {
        calls++;
        return calls < 3 ? Promise.reject(new DownError(calls)) : Promise.resolve('stored');
      }),
    );
    await jest.advanceTimersByTimeAsync(1000);
    expect(await outcome).toEqual({ ok: true, value: 'stored' });
    expect(calls).toBe(3);
    expect(observer.retries.map((r) => r.attempt)).toEqual([1, 2]);
  });

  it('maxAttempts 0 means a single call', async () => {
    const policy = new NamedPolicy('pg', { retry: { maxAttempts: 0, initialDelayMs: 10, maxDelayMs: 50 } }, recorder());
    const fn = jest.fn(() => Promise.reject(new DownError()));
    expect(await errorOf(policy.execute(fn))).toBeInstanceOf(DownError);
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it('does not retry a BrokenCircuitError: an open breaker fails fast', async () => {
    const observer = recorder();
    const policy = new NamedPolicy(
      'pg',
      {
        retry: { maxAttempts: 10, initialDelayMs: 10, maxDelayMs: 20 },
        breaker: { consecutiveFailures: 2, halfOpenAfterMs: 60_000 },
      },
      observer,
    );
    const fn = jest.fn(() => Promise.reject(new DownError()));
    const outcome = settle(policy.execute(fn));
    await jest.advanceTimersByTimeAsync(1000);
    const result = await outcome;
    expect(!result.ok && result.error).toBeInstanceOf(BrokenCircuitError);
    // Two real attempts opened the breaker; the third attempt was refused and not retried.
    expect(fn).toHaveBeenCalledTimes(2);
    expect(observer.retries).toHaveLength(2);

    const again = jest.fn(() => Promise.resolve('x'));
    expect(await errorOf(policy.execute(again))).toBeInstanceOf(BrokenCircuitError);
    expect(again).not.toHaveBeenCalled();
  });

  it('with whileOpen keeps retrying through the open breaker until the half-open trial succeeds', async () => {
    const observer = recorder();
    const policy = new NamedPolicy(
      'pg',
      {
        retry: { maxAttempts: Number.POSITIVE_INFINITY, initialDelayMs: 100, maxDelayMs: 200, whileOpen: true },
        breaker: { consecutiveFailures: 1, halfOpenAfterMs: 1000 },
      },
      observer,
    );
    let calls = 0;
    const outcome = settle(
      policy.execute(() => {
        calls++;
        return calls === 1 ? Promise.reject(new DownError()) : Promise.resolve('back');
      }),
    );
    await jest.advanceTimersByTimeAsync(500);
    expect(calls).toBe(1);
    expect(policy.state).toBe(CircuitState.Open);
    expect(observer.retries.some((r) => r.error instanceof BrokenCircuitError)).toBe(true);

    await jest.advanceTimersByTimeAsync(1000);
    expect(await outcome).toEqual({ ok: true, value: 'back' });
    expect(calls).toBe(2);
    expect(policy.state).toBe(CircuitState.Closed);
    expect(observer.states).toEqual([CircuitState.Open, CircuitState.HalfOpen, CircuitState.Closed]);
  });
});

describe('NamedPolicy: timeout', () => {
  it('abandons a slow call with TaskCancelledError and aborts the signal passed to fn', async () => {
    const policy = new NamedPolicy('http', { timeoutMs: 100 }, recorder());
    let seen: AbortSignal | undefined;
    const outcome = settle(
      policy.execute((signal) => {
        seen = signal;
        return new Promise<never>(() => undefined);
      }),
    );
    await jest.advanceTimersByTimeAsync(99);
    expect(seen?.aborted).toBe(false);
    await jest.advanceTimersByTimeAsync(1);
    const result = await outcome;
    expect(!result.ok && result.error).toBeInstanceOf(TaskCancelledError);
    expect(seen?.aborted).toBe(true);
  });

  it('lets a call that finishes in time through', async () => {
    const policy = new NamedPolicy('http', { timeoutMs: 100 }, recorder());
    const outcome = settle(
      policy.execute(() => new Promise<string>((resolve) => setTimeout(() => resolve('fast'), 50))),
    );
    await jest.advanceTimersByTimeAsync(50);
    expect(await outcome).toEqual({ ok: true, value: 'fast' });
  });

  it('times out each retry attempt on its own, and timeouts count as breaker failures', async () => {
    const observer = recorder();
    const policy = new NamedPolicy(
      'http',
      {
        timeoutMs: 100,
        retry: { maxAttempts: 1, initialDelayMs: 10, maxDelayMs: 10 },
        breaker: { consecutiveFailures: 2, halfOpenAfterMs: 60_000 },
      },
      observer,
    );
    const signals: AbortSignal[] = [];
    const outcome = settle(
      policy.execute((signal) => {
        signals.push(signal);
        return new Promise<never>(() => undefined);
      }),
    );
    await jest.advanceTimersByTimeAsync(1000);
    const result = await outcome;
    expect(!result.ok && result.error).toBeInstanceOf(TaskCancelledError);
    expect(signals).toHaveLength(2);
    expect(signals.every((s) => s.aborted)).toBe(true);
    expect(policy.state).toBe(CircuitState.Open);
  });

  it("propagates the caller's abort to fn's signal", async () => {
    const policy = new NamedPolicy('http', { timeoutMs: 10_000 }, recorder());
    const controller = new AbortController();
    let seen: AbortSignal | undefined;
    const outcome = settle(
      policy.execute((signal) => {
        seen = signal;
        return new Promise<never>(() => undefined);
      }, controller.signal),
    );
    await Promise.resolve();
    expect(seen?.aborted).toBe(false);
    controller.abort();
    expect(seen?.aborted).toBe(true);
    await jest.advanceTimersByTimeAsync(10_000);
    expect((await outcome).ok).toBe(false);
  });
});

describe('NamedPolicy: a caller giving up is not a failure', () => {
  it.each([
    ['with a timeout', { timeoutMs: 30_000 }],
    ['without a timeout', {}],
  ])('%s: an abort rejects with CancelledError, is not retried and not counted by the breaker', async (_, extra) => {
    const observer = recorder();
    const policy = new NamedPolicy(
      'mongodb',
      {
        ...extra,
        retry: { maxAttempts: 3, initialDelayMs: 10, maxDelayMs: 10 },
        breaker: { consecutiveFailures: 1, halfOpenAfterMs: 60_000 },
      },
      observer,
    );
    let calls = 0;
    for (let i = 0; i < 3; i++) {
      const controller = new AbortController();
      const outcome = settle(
        policy.execute((signal) => {
          calls++;
          // Work that fails once its signal aborts, with an error of its own (as drivers do).
          return new Promise<never>((_resolve, reject) =>
            signal.addEventListener('abort', () => reject(new Error('operation interrupted'))),
          );
        }, controller.signal),
      );
      await Promise.resolve();
      controller.abort(new CancelledError('consumer session ended'));
      const result = await outcome;
      expect(!result.ok && isCancellation(result.error)).toBe(true);
    }
    await jest.advanceTimersByTimeAsync(60_000);
    expect(calls).toBe(3);
    expect(observer.retries).toEqual([]);
    expect(policy.state).toBe(CircuitState.Closed);
  });

  it('a timeout of the same policy still counts', async () => {
    const policy = new NamedPolicy(
      'mongodb',
      { timeoutMs: 100, breaker: { consecutiveFailures: 1, halfOpenAfterMs: 60_000 } },
      recorder(),
    );
    const outcome = settle(policy.execute(() => new Promise<never>(() => undefined), new AbortController().signal));
    await jest.advanceTimersByTimeAsync(100);
    const result = await outcome;
    expect(!result.ok && result.error).toBeInstanceOf(TaskCancelledError);
    expect(policy.state).toBe(CircuitState.Open);
  });
});

describe('NamedPolicy: other layers', () => {
  it('with no options runs fn once, passing a live signal, and reports Closed', async () => {
    const policy = new NamedPolicy('plain', {}, recorder());
    let seen: AbortSignal | undefined;
    await expect(
      policy.execute((signal) => {
        seen = signal;
        return 7;
      }),
    ).resolves.toBe(7);
    expect(seen).toBeInstanceOf(AbortSignal);
    expect(seen?.aborted).toBe(false);
    expect(policy.breaker).toBeUndefined();
    expect(policy.state).toBe(CircuitState.Closed);
    expect(policy.isOpen).toBe(false);
  });

  it('gives each call its own signal', async () => {
    const policy = new NamedPolicy('plain', {}, recorder());
    const signals: AbortSignal[] = [];
    await policy.execute((signal) => signals.push(signal));
    await policy.execute((signal) => signals.push(signal));
    expect(signals[0]).not.toBe(signals[1]);
  });

  it('bulkhead refuses calls beyond limit + queue', async () => {
    const policy = new NamedPolicy('bulk', { bulkhead: { limit: 1, queue: 1 } }, recorder());
    const releases: (() => void)[] = [];
    const slow = () => new Promise<void>((resolve) => releases.push(resolve));
    const first = settle(policy.execute(slow));
    const second = settle(policy.execute(slow));
    expect(await errorOf(policy.execute(slow))).toBeInstanceOf(BulkheadRejectedError);
    await Promise.resolve();
    expect(releases).toHaveLength(1);
    releases[0]?.();
    expect((await first).ok).toBe(true);
    await jest.advanceTimersByTimeAsync(0);
    expect(releases).toHaveLength(2);
    releases[1]?.();
    expect((await second).ok).toBe(true);
  });
});
