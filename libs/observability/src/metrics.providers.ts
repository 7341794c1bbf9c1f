import { makeCounterProvider, makeGaugeProvider, makeHistogramProvider } from '@willsoto/nestjs-prometheus';
import {
  CIRCUIT_STATE,
  CONNECTIONS_REFUSED_TOTAL,
  LOG_LINES_SUPPRESSED_TOTAL,
  MALFORMED_FRAMES_TOTAL,
  END_TO_END_LATENCY,
  OPERATION_DURATION,
  OPERATIONS_TOTAL,
  RECORDS_DROPPED_TOTAL,
  RECORDS_REJECTED_TOTAL,
  RECORDS_ROUTED_TOTAL,
  RECORDS_TOTAL,
  RETRIES_TOTAL,
  RULES_INFO,
  RULES_RELOADS_TOTAL,
  SINK_WRITE_DURATION,
  TAIL_DROPPED_TOTAL,
  WS_FRAME_DURATION,
} from './metric-names';

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

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
    buckets: LATENCY_BUCKETS,
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
  makeHistogramProvider({
    name: WS_FRAME_DURATION,
    help: 'Time from a records frame arriving at the filter to its records being acknowledged or refused',
    labelNames: ['outcome'],
    buckets: LATENCY_BUCKETS,
  }),
  makeCounterProvider({
    name: RECORDS_ROUTED_TOTAL,
    help: 'Records handed on by the filter, by route, rule and rule set version',
    labelNames: ['route', 'rule', 'version'],
  }),
  makeCounterProvider({
    name: RECORDS_DROPPED_TOTAL,
    help: "Records a routing rule dropped on purpose, by the rule's reason",
    labelNames: ['reason'],
  }),
  makeGaugeProvider({
    name: RULES_INFO,
    help: 'The active routing rule set (value 1), by version and name',
    labelNames: ['version', 'name'],
  }),
  makeCounterProvider({
    name: RULES_RELOADS_TOTAL,
    help: 'Rule set changes, by where they came from (file, api) and outcome (applied, refused)',
    labelNames: ['source', 'outcome'],
  }),
  makeCounterProvider({
    name: TAIL_DROPPED_TOTAL,
    help: 'Tail events not sent to a slow tail client (the pipeline never waits for one)',
  }),
  makeHistogramProvider({
    name: OPERATION_DURATION,
    help: 'Duration of operations marked @Timed, by operation',
    labelNames: ['operation'],
    buckets: LATENCY_BUCKETS,
  }),
  makeCounterProvider({
    name: OPERATIONS_TOTAL,
    help: 'Calls of operations marked @Counted, by operation and outcome (ok, error, cancelled)',
    labelNames: ['operation', 'outcome'],
  }),
  makeCounterProvider({
    name: CONNECTIONS_REFUSED_TOTAL,
    help: 'Connections refused before their first frame, by endpoint (ingest, tail) and reason (unauthorized, limit)',
    labelNames: ['endpoint', 'reason'],
  }),
  makeCounterProvider({
    name: LOG_LINES_SUPPRESSED_TOTAL,
    help: 'Log lines left out by sampling (the events themselves are counted by their own metrics), by category',
    labelNames: ['category'],
  }),
  makeCounterProvider({
    name: MALFORMED_FRAMES_TOTAL,
    help: 'Frames from a peer that do not follow the protocol, by peer',
    labelNames: ['peer'],
  }),
];
