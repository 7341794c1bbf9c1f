import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import { RecordsRmqServer } from '@dataflow/messaging';
import { BreakerHealthIndicator } from '@dataflow/resilience';
import { MongoRecordStore } from '../storage/mongo-record.store';

@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly breakers: BreakerHealthIndicator,
    private readonly server: RecordsRmqServer,
    private readonly store: MongoRecordStore,
  ) {}

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
        return this.server.isConnected() ? session.up() : session.down({ message: 'not connected' });
      },
      () =>
        this.indicators
          .check('mongodb')
          .attempt(() => this.store.ping())
          .withTimeout(2000),
      () => this.breakers.check(),
    ]);
  }
}
