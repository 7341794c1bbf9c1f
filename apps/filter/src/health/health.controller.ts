import { Controller, Get, Inject } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { DiskHealthIndicator, HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import { access, constants } from 'node:fs/promises';
import { BreakerHealthIndicator } from '@dataflow/resilience';
import type { FilterConfig } from '../config/filter.config';
import { QueueSink } from '../sinks/queue-sink.service';

@Controller('health')
export class HealthController {
  private readonly outputDir: string;

  constructor(
    @Inject(ConfigService) config: ConfigService<FilterConfig, true>,
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly breakers: BreakerHealthIndicator,
    private readonly disk: DiskHealthIndicator,
    private readonly queue: QueueSink,
  ) {
    this.outputDir = config.get('FILTER_OUTPUT_DIR', { infer: true });
  }

  @Get('live')
  @HealthCheck()
  live() {
    return this.health.check([]);
  }

  @Get('ready')
  @HealthCheck()
  ready() {
    return this.health.check([
      () => {
        const session = this.indicators.check('rabbitmq');
        return this.queue.connected ? session.up() : session.down({ message: 'not connected' });
      },
      () =>
        this.indicators
          .check('outputDir')
          .attempt(async () => {
            await access(this.outputDir, constants.W_OK);
          })
          .withTimeout(1000),
      () => this.disk.checkStorage('disk', { path: this.outputDir, thresholdPercent: 0.98 }),
      () => this.breakers.check(),
    ]);
  }
}
