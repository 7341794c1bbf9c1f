import { Inject, Injectable } from '@nestjs/common';
import { DiskHealthIndicator, HealthIndicatorFunction, HealthIndicatorService } from '@nestjs/terminus';
import { access, constants } from 'node:fs/promises';
import type { Readiness } from '@dataflow/observability';
import { BreakerHealthIndicator } from '@dataflow/resilience';
import { FILE_SINK_OPTIONS, type FileSinkOptions } from '../sinks/file-sink.options';
import { FileLeg } from '../sinks/file-leg';
import { QueueSink } from '../sinks/queue-sink.service';

/**
 * Ready with RabbitMQ connected (both connections when partitioned: the file leg has its own), the
 * output directory writable with space left, no breaker open.
 */
@Injectable()
export class FilterReadiness implements Readiness {
  private readonly outputDir: string;

  constructor(
    @Inject(FILE_SINK_OPTIONS) files: FileSinkOptions,
    private readonly indicators: HealthIndicatorService,
    private readonly breakers: BreakerHealthIndicator,
    private readonly disk: DiskHealthIndicator,
    private readonly queue: QueueSink,
    private readonly file: FileLeg,
  ) {
    this.outputDir = files.dir;
  }

  checks(): HealthIndicatorFunction[] {
    return [
      () => {
        const session = this.indicators.check('rabbitmq');
        return this.queue.connected ? session.up() : session.down({ message: 'not connected' });
      },
      () => {
        const session = this.indicators.check('fileLeg');
        const reason = this.file.notReady();
        return reason === undefined ? session.up() : session.down({ message: reason });
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
