import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { access, constants } from 'node:fs/promises';
import { PolicyRegistry, probeWhileOpen, type BreakerProbe } from '@dataflow/resilience';
import { FileLeg } from './file-leg';
import { FILE_SINK_OPTIONS, type FileSinkOptions } from './file-sink.options';
import { FILESYSTEM_POLICY } from './file-sink.service';
import { QueueSink, RABBITMQ_POLICY } from './queue-sink.service';

/**
 * Closes the filter's breakers when their dependency answers again, whether or not records arrive:
 * readiness is down while a breaker is open, so a load balancer (or a generator with several filter
 * URLs) sends this replica nothing, and without a probe no record would ever make the breaker's
 * trial (see probeWhileOpen). The probes: RabbitMQ connected with both channels set up; the output
 * directory writable. A probe that passes while writes still fail closes the breaker for a moment:
 * the next hand-offs fail and open it again.
 */
@Injectable()
export class BreakerProbes implements OnApplicationBootstrap, OnApplicationShutdown {
  private probes: BreakerProbe[] = [];

  constructor(
    private readonly registry: PolicyRegistry,
    private readonly queue: QueueSink,
    private readonly file: FileLeg,
    @Inject(FILE_SINK_OPTIONS) private readonly files: FileSinkOptions,
  ) {}

  onApplicationBootstrap(): void {
    this.probes = [
      probeWhileOpen(this.registry.get(RABBITMQ_POLICY), () => {
        const reason = this.queue.connected ? this.file.notReady() : 'not connected to RabbitMQ';
        return reason === undefined ? Promise.resolve() : Promise.reject(new Error(reason));
      }),
      probeWhileOpen(this.registry.get(FILESYSTEM_POLICY), () => access(this.files.dir, constants.W_OK)),
    ];
  }

  onApplicationShutdown(): void {
    for (const probe of this.probes) probe.stop();
  }
}
