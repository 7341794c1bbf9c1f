import { Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { DiskHealthIndicator, HealthIndicatorFunction, HealthIndicatorService } from '@nestjs/terminus';
import { access, constants } from 'node:fs/promises';
import type { Readiness } from '@dataflow/observability';
import { BreakerHealthIndicator } from '@dataflow/resilience';
import type { FilterConfig } from '../config/filter.config';
import { QueueSink } from '../sinks/queue-sink.service';

/** Ready with RabbitMQ connected, the output directory writable with space left, no breaker open. */
@Injectable()
export class FilterReadiness implements Readiness {
  private readonly outputDir: string;

  constructor(
    @Inject(ConfigService) config: ConfigService<FilterConfig, true>,
    private readonly indicators: HealthIndicatorService,
    private readonly breakers: BreakerHealthIndicator,
    private readonly disk: DiskHealthIndicator,
    private readonly queue: QueueSink,
  ) {
    this.outputDir = config.get('FILTER_OUTPUT_DIR', { infer: true });
  }

  checks(): HealthIndicatorFunction[] {
    return [
      () => {
        const session = this.indicators.check('rabbitmq');
        return this.queue.connected ? session.up() : session.down({ message: 'not connected' });
      },
      () =>
        this.indicators
          .check('outputDir')
          .attempt(() => access(this.outputDir, constants.W_OK))
          .withTimeout(1000),
      () => this.disk.checkStorage('disk', { path: this.outputDir, thresholdPercent: 0.98 }),
      () => this.breakers.check(),
    ];
  }
}
