import { Inject, Injectable } from '@nestjs/common';
import { HealthIndicatorFunction, HealthIndicatorService } from '@nestjs/terminus';
import type { Readiness } from '@dataflow/observability';
import { BreakerHealthIndicator } from '@dataflow/resilience';
import type { RecordStore } from './record-writer';
import { RecordsRmqServer } from '../transport/records-rmq.server';

/** The writer's store, for readiness and the writer itself. */
export const RECORD_STORE = Symbol('RECORD_STORE');

/**
 * A writer is ready with the broker connected, a consumer subscribed (not paused, not between two
 * sessions), its database answering and no breaker open.
 */
@Injectable()
export class WriterReadiness implements Readiness {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly breakers: BreakerHealthIndicator,
    private readonly server: RecordsRmqServer,
    @Inject(RECORD_STORE) private readonly store: RecordStore,
  ) {}

  checks(): HealthIndicatorFunction[] {
    return [
      () => {
        const session = this.indicators.check('rabbitmq');
        return this.server.isConnected() ? session.up() : session.down({ message: 'not connected' });
      },
      () => {
        const session = this.indicators.check('consumer');
        const state = this.server.consumerState();
        return state.consuming ? session.up() : session.down({ message: state.reason });
      },
      () =>
        this.indicators
          .check(this.store.sink)
          .attempt(() => this.store.ping())
          .withTimeout(2000),
      () => this.breakers.check(),
    ];
  }
}
