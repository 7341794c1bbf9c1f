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

function counter(name: string, help: string, labelNames: string[] = []) {
  return makeCounterProvider({ name, help, labelNames });
}

function gauge(name: string, help: string, labelNames: string[] = []) {
  return makeGaugeProvider({ name, help, labelNames });
}

/** A duration histogram in seconds, buckets from 1 ms to 10 s. */
function latencyHistogram(name: string, help: string, labelNames: string[]) {
  return makeHistogramProvider({ name, help, labelNames, buckets: LATENCY_BUCKETS });
}

export const metricProviders = [
  counter(RECORDS_TOTAL, 'Records handled, by app, pipeline stage and outcome', ['app', 'stage', 'outcome']),
  counter(RECORDS_REJECTED_TOTAL, 'Records or frames refused as invalid, by reason', ['reason']),
  latencyHistogram(SINK_WRITE_DURATION, 'Time to durably write one batch to a sink', ['sink']),
  gauge(CIRCUIT_STATE, 'Circuit breaker state: 0 closed, 1 half-open, 2 open', ['breaker']),
  makeHistogramProvider({
    name: END_TO_END_LATENCY,
    help: 'Time from a record being generated (its timestamp) to being stored, by sink',
    labelNames: ['sink'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
  }),
  counter(RETRIES_TOTAL, 'Retries of failed operations, by operation', ['operation']),
  latencyHistogram(
    WS_FRAME_DURATION,
    'Time from a records frame arriving at the filter to its records being acknowledged or refused',
    ['outcome'],
  ),
  counter(RECORDS_ROUTED_TOTAL, 'Records handed on by the filter, by route, rule and rule set version', [
    'route',
    'rule',
    'version',
  ]),
  counter(RECORDS_DROPPED_TOTAL, "Records a routing rule dropped on purpose, by the rule's reason", ['reason']),
  gauge(RULES_INFO, 'The active routing rule set (value 1), by version and name', ['version', 'name']),
  counter(RULES_RELOADS_TOTAL, 'Rule set changes, by where they came from (file, api) and outcome (applied, refused)', [
    'source',
    'outcome',
  ]),
  counter(TAIL_DROPPED_TOTAL, 'Tail events not sent to a slow tail client (the pipeline never waits for one)'),
  latencyHistogram(OPERATION_DURATION, 'Duration of operations marked @Timed, by operation', ['operation']),
  counter(OPERATIONS_TOTAL, 'Calls of operations marked @Counted, by operation and outcome (ok, error, cancelled)', [
    'operation',
    'outcome',
  ]),
  counter(
    CONNECTIONS_REFUSED_TOTAL,
    'Connections refused before their first frame, by endpoint (ingest, tail) and reason (unauthorized, limit)',
    ['endpoint', 'reason'],
  ),
  counter(
    LOG_LINES_SUPPRESSED_TOTAL,
    'Log lines left out by sampling (the events themselves are counted by their own metrics), by category',
    ['category'],
  ),
  counter(MALFORMED_FRAMES_TOTAL, 'Frames from a peer that do not follow the protocol, by peer', ['peer']),
];
