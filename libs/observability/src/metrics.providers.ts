import { makeCounterProvider, makeGaugeProvider, makeHistogramProvider } from '@willsoto/nestjs-prometheus';
import {
  CIRCUIT_STATE,
  END_TO_END_LATENCY,
  RECORDS_REJECTED_TOTAL,
  RECORDS_TOTAL,
  RETRIES_TOTAL,
  SINK_WRITE_DURATION,
} from './metric-names';

export const metricProviders = [
  makeCounterProvider({
    name: RECORDS_TOTAL,
    help: 'Records handled, by app, pipeline stage and outcome',
    labelNames: ['app', 'stage', 'outcome'],
  }),
  makeCounterProvider({
    name: RECORDS_REJECTED_TOTAL,
    help: 'Records or frames refused as invalid, by reason',
    labelNames: ['reason'],
  }),
  makeHistogramProvider({
    name: SINK_WRITE_DURATION,
    help: 'Time to durably write one batch to a sink',
    labelNames: ['sink'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  }),
  makeGaugeProvider({
    name: CIRCUIT_STATE,
    help: 'Circuit breaker state: 0 closed, 1 half-open, 2 open',
    labelNames: ['breaker'],
  }),
  makeHistogramProvider({
    name: END_TO_END_LATENCY,
    help: 'Time from a record being generated (its timestamp) to being stored, by sink',
    labelNames: ['sink'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
  }),
  makeCounterProvider({
    name: RETRIES_TOTAL,
    help: 'Retries of failed operations, by operation',
    labelNames: ['operation'],
  }),
];
