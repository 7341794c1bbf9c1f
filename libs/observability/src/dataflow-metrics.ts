import { Injectable } from '@nestjs/common';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import type { Counter, Gauge, Histogram } from 'prom-client';
import {
  CIRCUIT_STATE,
  CircuitStateValue,
  END_TO_END_LATENCY,
  RECORDS_REJECTED_TOTAL,
  RECORDS_TOTAL,
  RETRIES_TOTAL,
  SINK_WRITE_DURATION,
} from './metric-names';
import { APP_NAME } from './observability.tokens';
import { Inject } from '@nestjs/common';

/**
 * The one place app code records the contract's metrics. Label values are bounded (stages, outcomes,
 * reasons and breaker names are fixed sets in code), so cardinality stays small.
 */
@Injectable()
export class DataflowMetrics {
  constructor(
    @Inject(APP_NAME) private readonly app: string,
    @InjectMetric(RECORDS_TOTAL) private readonly records: Counter<'app' | 'stage' | 'outcome'>,
    @InjectMetric(RECORDS_REJECTED_TOTAL) private readonly rejected: Counter<'reason'>,
    @InjectMetric(SINK_WRITE_DURATION) private readonly sinkWrites: Histogram<'sink'>,
    @InjectMetric(CIRCUIT_STATE) private readonly circuits: Gauge<'breaker'>,
    @InjectMetric(RETRIES_TOTAL) private readonly retries: Counter<'operation'>,
    @InjectMetric(END_TO_END_LATENCY) private readonly endToEnd: Histogram<'sink'>,
  ) {}

  /** Observes generation-to-storage latency for records stored now (timestamps in ms). */
  storedRecords(sink: string, timestamps: readonly number[]): void {
    const now = Date.now();
    for (const timestamp of timestamps) this.endToEnd.observe({ sink }, Math.max(0, now - timestamp) / 1000);
  }

  recordsProcessed(stage: string, outcome: string, count = 1): void {
    if (count > 0) this.records.inc({ app: this.app, stage, outcome }, count);
  }

  recordRejected(reason: string, count = 1): void {
    if (count > 0) this.rejected.inc({ reason }, count);
  }

  /** Starts a sink write timer; call the returned function when the write settles. */
  startSinkWrite(sink: string): () => number {
    return this.sinkWrites.startTimer({ sink });
  }

  circuitState(breaker: string, state: CircuitStateValue): void {
    this.circuits.set({ breaker }, state);
  }

  retried(operation: string): void {
    this.retries.inc({ operation });
  }
}
