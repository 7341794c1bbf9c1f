import { APP_NAMES, type AppName } from '../kit/app-process';
import type { Sample } from '../kit/prometheus';

/**
 * The processes of a chaos run: one of each app, and the mongo-writer twice, active and standby on
 * the single-active-consumer queue, as the Helm chart runs it.
 */
export type InstanceName = AppName | 'mongo-writer-b';

export const INSTANCE_NAMES: readonly InstanceName[] = [...APP_NAMES, 'mongo-writer-b'];

export const MONGO_WRITERS: readonly InstanceName[] = ['mongo-writer', 'mongo-writer-b'];

export function appOf(instance: InstanceName): AppName {
  return instance === 'mongo-writer-b' ? 'mongo-writer' : instance;
}

/** `dataflow_circuit_state` per breaker name. */
export function breakerStates(samples: readonly Sample[] | undefined): Map<string, number> {
  const states = new Map<string, number>();
  for (const sample of samples ?? []) {
    if (sample.name === 'dataflow_circuit_state' && sample.labels.breaker !== undefined) {
      states.set(sample.labels.breaker, sample.value);
    }
  }
  return states;
}
