import { CircuitState } from 'cockatiel';
import type { NamedPolicy } from './named-policy';

/** Stops a probe started by {@link probeWhileOpen}. */
export interface BreakerProbe {
  stop(): void;
}

/**
 * Gives an open breaker its half-open trial even when no caller comes: each time the breaker opens,
 * once its half-open pause is over, `probe` (a cheap check that the dependency answers) runs through
 * the breaker; success closes it, failure opens it again and the probe waits another pause. A
 * breaker otherwise closes only through a real call, and a replica whose readiness is down while its
 * breaker is open gets no calls (a load balancer, the generators' other URLs): it would stay open and
 * unready for good. A real call that comes first makes the trial itself; the probe then does nothing.
 */
export function probeWhileOpen(policy: NamedPolicy, probe: () => Promise<void>): BreakerProbe {
  const breaker = policy.breaker;
  if (!breaker) return { stop: () => undefined };
  const pauseMs = policy.options.breaker?.halfOpenAfterMs ?? 1000;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const schedule = (): void => {
    if (stopped || timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      if (breaker.state !== CircuitState.Open) return;
      breaker.execute(probe).catch(() => {
        // Failed, or a real trial was in flight: try again after the next pause while still open.
        if (breaker.state === CircuitState.Open) schedule();
      });
    }, pauseMs);
    timer.unref();
  };
  const listener = breaker.onStateChange((state) => {
    if (state === CircuitState.Open) schedule();
  });
  if (breaker.state === CircuitState.Open) schedule();
  return {
    stop: () => {
      stopped = true;
      clearTimeout(timer);
      listener.dispose();
    },
  };
}
