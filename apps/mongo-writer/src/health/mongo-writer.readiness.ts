import { Injectable } from '@nestjs/common';
import { HealthIndicatorFunction, HealthIndicatorService } from '@nestjs/terminus';
import { RecordsRmqServer } from '@dataflow/messaging';
import type { Readiness } from '@dataflow/observability';
import { BreakerHealthIndicator } from '@dataflow/resilience';
import { MongoRecordStore } from '../storage/mongo-record.store';

/** Ready with the broker connected, the database answering and no breaker open. */
@Injectable()
export class MongoWriterReadiness implements Readiness {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly breakers: BreakerHealthIndicator,
    private readonly server: RecordsRmqServer,
    private readonly store: MongoRecordStore,
  ) {}

  checks(): HealthIndicatorFunction[] {
    return [
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
    ];
  }
}
