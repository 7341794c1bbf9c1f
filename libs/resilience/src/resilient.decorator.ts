import { declareAspect, type AspectDecorator } from '@dataflow/observability/aspects/method-aspect';
import { RESILIENT_POLICY } from './resilience.tokens';

/**
 * Runs the decorated async method, provider method or handler alike, under the named policy of
 * the registry (see ResilienceAspect). Pure metadata: the method keeps its signature, and a
 * synchronous method is refused at compile time.
 */
export const Resilient = (policy: string): AspectDecorator => declareAspect(RESILIENT_POLICY, policy);
