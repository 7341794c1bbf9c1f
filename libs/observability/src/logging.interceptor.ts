import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { Observable, tap } from 'rxjs';
import { redactText } from './redact';

/**
 * Logs every WebSocket and message handler call with its duration and outcome. HTTP requests are
 * already logged by pino-http. Payloads are never logged: they may be hostile or large.
 */
@Injectable()
export class LoggingInterceptor implements NestInterceptor {
  constructor(@InjectPinoLogger('handler') private readonly logger: PinoLogger) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const type = context.getType();
    if (type === 'http') return next.handle();
    const handler = `${context.getClass().name}.${context.getHandler().name}`;
    const started = process.hrtime.bigint();
    const elapsedMs = (): number => Number(process.hrtime.bigint() - started) / 1e6;
    return next.handle().pipe(
      tap({
        complete: () => this.logger.trace({ handler, transport: type, ms: elapsedMs() }, 'handled'),
        error: (error: unknown) =>
          this.logger.error(
            { handler, transport: type, ms: elapsedMs(), err: redactText(String(error)) },
            'handler failed',
          ),
      }),
    );
  }
}
