import { Inject, Injectable, Logger } from '@nestjs/common';
import { CircuitState } from 'cockatiel';
import { CircuitStateValue, DataflowMetrics } from '@dataflow/observability';
import { NamedPolicy, PolicyObserver } from './named-policy';
import type { PolicyCatalogue } from './policy-options';
import { POLICY_CATALOGUE } from './resilience.tokens';

const GAUGE_VALUE: Record<CircuitState, CircuitStateValue> = {
  [CircuitState.Closed]: CircuitStateValue.Closed,
  [CircuitState.HalfOpen]: CircuitStateValue.HalfOpen,
  [CircuitState.Open]: CircuitStateValue.Open,
  [CircuitState.Isolated]: CircuitStateValue.Open,
};

/**
 * Builds one {@link NamedPolicy} per dependency from configuration, once, and bridges breaker and
 * retry events to `dataflow_circuit_state`, `dataflow_retries_total` and the logs.
 */
@Injectable()
export class PolicyRegistry implements PolicyObserver {
  private readonly logger = new Logger('resilience');
  private readonly policies = new Map<string, NamedPolicy>();

  constructor(
    @Inject(POLICY_CATALOGUE) catalogue: PolicyCatalogue,
    private readonly metrics: DataflowMetrics,
  ) {
    for (const [name, options] of Object.entries(catalogue)) {
      const policy = new NamedPolicy(name, options, this);
      this.policies.set(name, policy);
      if (policy.breaker) this.metrics.circuitState(name, CircuitStateValue.Closed);
      this.metrics.retried(name, 0);
    }
  }

  get(name: string): NamedPolicy {
    const policy = this.policies.get(name);
    if (!policy) throw new Error(`no resilience policy named "${name}"`);
    return policy;
  }

  all(): NamedPolicy[] {
    return [...this.policies.values()];
  }

  stateChanged(policy: string, state: CircuitState): void {
    this.metrics.circuitState(policy, GAUGE_VALUE[state]);
    const label = CircuitState[state].toLowerCase();
    if (state === CircuitState.Closed) this.logger.log(`breaker ${policy} closed`);
    else this.logger.warn(`breaker ${policy} ${label}`);
  }

  retrying(policy: string, attempt: number, delayMs: number, error: unknown): void {
    this.metrics.retried(policy);
    const reason = error instanceof Error ? error.message : String(error);
    this.logger.warn(`retrying ${policy} (attempt ${attempt}, in ${Math.round(delayMs)} ms): ${reason}`);
  }
}
