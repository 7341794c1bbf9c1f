import { Injectable, NestMiddleware } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { TailService } from './tail.service';

/**
 * Refuses `GET /tail` with 503 while FILTER_TAIL_MAX_CLIENTS streams are open, before routing,
 * guards and exception handling run: a client retrying a full /tail in a loop then costs the
 * filter a few microseconds a request instead of the whole request pipeline.
 */
@Injectable()
export class TailCapacityMiddleware implements NestMiddleware {
  constructor(private readonly tail: TailService) {}

  use(request: IncomingMessage, response: ServerResponse, next: () => void): void {
    if (!this.tail.full) {
      next();
      return;
    }
    this.tail.refused(request.socket.remoteAddress ?? 'unknown');
    response.writeHead(503, { 'Content-Type': 'application/json', 'Retry-After': '1' });
    response.end(this.tail.fullMessage);
  }
}
