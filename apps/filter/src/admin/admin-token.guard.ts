import { CanActivate, ExecutionContext, Inject, Injectable, UnauthorizedException } from '@nestjs/common';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { ADMIN_OPTIONS, type AdminOptions } from './admin.options';

/**
 * Guards the filter's operator endpoints (`/rules`, `/tail`) with `Authorization: Bearer
 * <FILTER_ADMIN_TOKEN>`. Without a token configured (allowed outside production) they are open.
 */
@Injectable()
export class AdminTokenGuard implements CanActivate {
  private readonly expected: Buffer | undefined;

  constructor(@Inject(ADMIN_OPTIONS) { token }: AdminOptions) {
    this.expected = token === undefined ? undefined : digest(token);
  }

  canActivate(context: ExecutionContext): boolean {
    if (this.expected === undefined) return true;
    const request = context.switchToHttp().getRequest<IncomingMessage>();
    const header = request.headers.authorization ?? '';
    const match = /^Bearer\s+(.+)$/i.exec(header);
    // Compare digests: equal length always, so timingSafeEqual never throws and leaks no length.
    if (match?.[1] !== undefined && timingSafeEqual(digest(match[1].trim()), this.expected)) return true;
    throw new UnauthorizedException('send Authorization: Bearer <FILTER_ADMIN_TOKEN>');
  }
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}
