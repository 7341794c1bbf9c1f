import { Inject, Injectable } from '@nestjs/common';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import type { Counter, Gauge, Histogram } from 'prom-client';
import type { CountedOutcome, InstrumentationSink } from './instrumentation';
import * as names from './metric-names';
import { CircuitStateValue } from './metric-names';
import { APP_NAME } from './observability.tokens';

/**
 * The one place app code records the contract's metrics. Label values are bounded (stages, outcomes,
 * reasons and breaker names are fixed sets in code), so cardinality stays small.
 */
@Injectable()
export class DataflowMetrics implements InstrumentationSink {
  constructor(
    @Inject(APP_NAME) private readonly app: string,
    @InjectMetric(names.RECORDS_TOTAL) private readonly records: Counter<'app' | 'stage' | 'outcome'>,
    @InjectMetric(names.RECORDS_REJECTED_TOTAL) private readonly rejected: Counter<'reason'>,
    @InjectMetric(names.SINK_WRITE_DURATION) private readonly sinkWrites: Histogram<'sink'>,
    @InjectMetric(names.CIRCUIT_STATE) private readonly circuits: Gauge<'breaker'>,
    @InjectMetric(names.RETRIES_TOTAL) private readonly retries: Counter<'operation'>,
    @InjectMetric(names.END_TO_END_LATENCY) private readonly endToEnd: Histogram<'sink'>,
    @InjectMetric(names.WS_FRAME_DURATION) private readonly frames: Histogram<'outcome'>,
    @InjectMetric(names.RECORDS_ROUTED_TOTAL) private readonly routes: Counter<'route' | 'rule' | 'version'>,
    @InjectMetric(names.RECORDS_DROPPED_TOTAL) private readonly drops: Counter<'reason'>,
    @InjectMetric(names.RULES_INFO) private readonly rules: Gauge<'version' | 'name'>,
    @InjectMetric(names.RULES_RELOADS_TOTAL) private readonly reloads: Counter<'source' | 'outcome'>,
    @InjectMetric(names.TAIL_DROPPED_TOTAL) private readonly tailDrops: Counter,
    @InjectMetric(names.OPERATION_DURATION) private readonly operations: Histogram<'operation'>,
    @InjectMetric(names.OPERATIONS_TOTAL) private readonly operationCalls: Counter<'operation' | 'outcome'>,
    @InjectMetric(names.CONNECTIONS_REFUSED_TOTAL) private readonly refusedConnections: Counter<'endpoint' | 'reason'>,
    @InjectMetric(names.LOG_LINES_SUPPRESSED_TOTAL) private readonly suppressedLogs: Counter<'category'>,
    @InjectMetric(names.MALFORMED_FRAMES_TOTAL) private readonly malformed: Counter<'peer'>,
  ) {}

  /**
   * Shows these rejection reasons at 0 from the start, so `/metrics` lists every series an app can
   * produce (dashboards and `rate()` need the series to exist before the first event).
   */
  declareRejections(reasons: readonly string[]): void {
    for (const reason of reasons) this.rejected.inc({ reason }, 0);
  }

  /** A method marked `@Timed` exists: its series show at 0 from the start. */
  declareOperation(operation: string, sink: string | undefined): void {
    this.operations.zero({ operation });
    if (sink !== undefined) this.sinkWrites.zero({ sink });
  }

  /** A method marked `@Counted` exists: its series show at 0 from the start. */
  declareCounted(operation: string): void {
    for (const outcome of ['ok', 'error', 'cancelled']) this.operationCalls.inc({ operation, outcome }, 0);
  }

  /** Fed by `@Timed`. */
  timed(operation: string, sink: string | undefined, seconds: number): void {
    this.operations.observe({ operation }, seconds);
    if (sink !== undefined) this.sinkWrites.observe({ sink }, seconds);
  }

  /** Fed by `@Counted`. */
  counted(operation: string, outcome: CountedOutcome): void {
    this.operationCalls.inc({ operation, outcome });
  }

  /** A records frame was settled `seconds` after it arrived (acked, refused or failed). */
  frameHandled(outcome: 'acked' | 'refused' | 'failed', seconds: number): void {
    this.frames.observe({ outcome }, seconds);
  }

  routed(route: string, rule: string, version: string, count: number): void {
    if (count > 0) this.routes.inc({ route, rule, version }, count);
  }

  droppedByRule(reason: string, count: number): void {
    if (count > 0) this.drops.inc({ reason }, count);
  }

  /** The rule set now in force: the only series of `dataflow_rules_info` with value 1. */
  rulesActive(version: string, name: string): void {
    this.rules.reset();
    this.rules.set({ version, name }, 1);
  }

  rulesReload(source: 'file' | 'api', outcome: 'applied' | 'refused'): void {
    this.reloads.inc({ source, outcome });
  }

  tailDropped(count: number): void {
    if (count > 0) this.tailDrops.inc(count);
  }

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

  /** Shows these series at 0 from the start (see {@link declareRejections}). */
  declareConnectionRefusals(endpoint: string, reasons: readonly string[]): void {
    for (const reason of reasons) this.refusedConnections.inc({ endpoint, reason }, 0);
  }

  connectionRefused(endpoint: string, reason: string): void {
    this.refusedConnections.inc({ endpoint, reason });
  }

  /** With 0, only makes the series exist. */
  logLinesSuppressed(category: string, count: number): void {
    if (count >= 0) this.suppressedLogs.inc({ category }, count);
  }

  malformedFrame(peer: string): void {
    this.malformed.inc({ peer });
  }

  circuitState(breaker: string, state: CircuitStateValue): void {
    this.circuits.set({ breaker }, state);
  }

  retried(operation: string, count = 1): void {
    this.retries.inc({ operation }, count);
  }
}
