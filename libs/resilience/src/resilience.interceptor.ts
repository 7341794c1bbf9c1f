import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { from, lastValueFrom, Observable } from 'rxjs';
import { PolicyRegistry } from './policy-registry.service';
import { RESILIENT_POLICY } from './resilience.tokens';

/** Applies a handler's `@Resilient` policy to the whole handler call (WebSocket, RMQ or HTTP). */
@Injectable()
export class ResilienceInterceptor implements NestInterceptor {
  constructor(
    private readonly reflector: Reflector,
    private readonly registry: PolicyRegistry,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const policyName = this.reflector.get<string | undefined>(RESILIENT_POLICY, context.getHandler());
    if (!policyName) return next.handle();
    const policy = this.registry.get(policyName);
    return from(policy.execute(() => lastValueFrom(next.handle(), { defaultValue: undefined })));
  }
}
