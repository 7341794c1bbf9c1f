import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { from, lastValueFrom, Observable } from 'rxjs';
import { MethodAspects } from './method-aspects';

type Declared = ReturnType<MethodAspects['declaredOn']>;

/**
 * Applies a handler's aspects around each of its calls: WebSocket messages, RMQ messages and HTTP
 * requests alike (bound globally, before the logging interceptor, so a handler's log lines carry
 * its span). The aspects see the call's arguments as the transport gives them (`getArgs()`: the
 * payload then the context for a message, the socket then the payload for a WebSocket event). A
 * retry of a `@Resilient` handler runs the handler, and the interceptors bound to it, again.
 */
@Injectable()
export class AspectInterceptor implements NestInterceptor {
  private readonly handlers = new WeakMap<object, Declared>();

  constructor(private readonly aspects: MethodAspects) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const handler = context.getHandler();
    const declared = this.declaredOn(handler);
    if (declared.length === 0) return next.handle();
    const site = { className: context.getClass().name, methodName: handler.name };
    const call = this.aspects.chain(declared, site, () => lastValueFrom(next.handle(), { defaultValue: undefined }));
    return from(call(context.getArgs()));
  }

  /** Read once per handler (AspectExplorer declared them at start-up). */
  private declaredOn(handler: object): Declared {
    let declared = this.handlers.get(handler);
    if (declared === undefined) {
      declared = this.aspects.declaredOn(handler);
      this.handlers.set(handler, declared);
    }
    return declared;
  }
}
