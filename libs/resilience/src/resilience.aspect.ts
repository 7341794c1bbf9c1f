import { Injectable } from '@nestjs/common';
import { AspectOrder, MethodAspects, type AspectSite, type MethodAspect, type Proceed } from '@dataflow/observability';
import { PolicyRegistry } from './policy-registry.service';
import { RESILIENT_POLICY } from './resilience.tokens';

/**
 * `@Resilient(name)`: the call runs under the named policy (timeout, retries with backoff, breaker).
 * A method whose last argument is an AbortSignal gets cancellation: the signal is the caller's, the
 * policy stops retrying once it fires, and each attempt gets the policy's own signal in its place
 * (aborted on a timeout too).
 */
@Injectable()
export class ResilienceAspect implements MethodAspect<string> {
  readonly key = RESILIENT_POLICY;
  readonly order = AspectOrder.resilient;

  constructor(
    private readonly registry: PolicyRegistry,
    aspects: MethodAspects,
  ) {
    aspects.register(this);
  }

  /** A policy name that no policy has fails the start-up, naming the method. */
  declare(name: string, site: AspectSite): void {
    try {
      this.registry.get(name);
    } catch (error) {
      throw new Error(
        `${site.className}.${site.methodName}: ${error instanceof Error ? error.message : String(error)}`,
        {
          cause: error,
        },
      );
    }
  }

  around(name: string, proceed: Proceed): Proceed {
    const policy = this.registry.get(name);
    return (args) => {
      const signal = args.at(-1);
      if (!(signal instanceof AbortSignal)) return policy.execute(() => proceed(args));
      const head = args.slice(0, -1);
      return policy.execute((attempt) => proceed([...head, attempt]), signal);
    };
  }
}
