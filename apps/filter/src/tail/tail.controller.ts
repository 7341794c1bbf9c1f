import { Controller, Get, Res, UseGuards } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import { AdminTokenGuard } from '../admin/admin-token.guard';
import { TailService } from './tail.service';

/** `GET /tail`: records as they leave the filter, with their routes, as Server-Sent Events. */
@Controller('tail')
@UseGuards(AdminTokenGuard)
export class TailController {
  constructor(private readonly tail: TailService) {}

  @Get()
  stream(@Res() response: ServerResponse): void {
    this.tail.subscribe(response);
  }
}
