import { CanActivate, ExecutionContext, Inject, Injectable, UnauthorizedException } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FilterConfig } from '../config/filter.config';

/**
 * Guards the filter's operator endpoints (`/rules`, `/tail`) with `Authorization: Bearer
 * <FILTER_ADMIN_TOKEN>`. Without a token configured (allowed outside production) they are open.
 */
@Injectable()
export class AdminTokenGuard implements CanActivate {
  private readonly expected: Buffer | undefined;

  constructor(@Inject(ConfigService) config: ConfigService<FilterConfig, true>) {
    const token = config.get('FILTER_ADMIN_TOKEN', { infer: true });
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
