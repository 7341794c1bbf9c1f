import { SetMetadata } from '@nestjs/common';
import { RESILIENT_POLICY } from './resilience.tokens';

/**
 * Runs the decorated async method (or handler) under the named policy of the registry. Pure
 * metadata: the method keeps its signature; {@link ResilienceExplorer} wraps provider methods once
 * at start-up and {@link ResilienceInterceptor} applies it to WebSocket/message handlers.
 */
export const Resilient = (policy: string): MethodDecorator => SetMetadata(RESILIENT_POLICY, policy);
