import { AspectOrder, declareAspect, type AspectDecorator, type MethodAspect } from './aspects/method-aspect';
import { isCancellation } from './cancellation';

/**
 * `@Timed` and `@Counted`: metrics as declarations on a method instead of timers written into its
 * body. Pure metadata (see aspects/method-aspect.ts): the aspects below record them through the
 * app's DataflowMetrics, for as long as the app runs, shutdown drains included.
 */

export interface TimedOptions {
  /** Also observe the call as a write to this sink (`dataflow_sink_write_duration_seconds{sink}`). */
  readonly sink?: string;
}

interface TimedMeta extends TimedOptions {
  readonly operation: string;
}

const TIMED = Symbol('@Timed');
const COUNTED = Symbol('@Counted');

/**
 * Observes each attempt's duration in `dataflow_operation_duration_seconds{operation}` (innermost:
 * under a `@Resilient` policy, every attempt separately).
 */
export function Timed(operation: string, options: TimedOptions = {}): AspectDecorator {
  return declareAspect<TimedMeta>(TIMED, { operation, ...options });
}

/**
 * Counts the calls in `dataflow_operations_total{operation,outcome}`: `ok`, `error` when the
 * promise rejects, `cancelled` when the caller gave up on it (its AbortSignal fired: the writers'
 * messages went back to the queue), which is no failure of the operation. Outside a `@Resilient`
 * policy: a call retried to success counts once, as `ok`.
 */
export function Counted(operation: string): AspectDecorator {
  return declareAspect<string>(COUNTED, operation);
}

/** What the metric aspects record into (the app's DataflowMetrics). */
export type CountedOutcome = 'ok' | 'error' | 'cancelled';

export interface InstrumentationSink {
  declareOperation(operation: string, sink: string | undefined): void;
  declareCounted(operation: string): void;
  timed(operation: string, sink: string | undefined, seconds: number): void;
  counted(operation: string, outcome: CountedOutcome): void;
}

export function timedAspect(sink: InstrumentationSink): MethodAspect<TimedMeta> {
  return {
    key: TIMED,
    order: AspectOrder.timed,
    declare: (meta) => sink.declareOperation(meta.operation, meta.sink),
    around: (meta, proceed) => async (args) => {
      const start = process.hrtime.bigint();
      try {
        return await proceed(args);
      } finally {
        sink.timed(meta.operation, meta.sink, Number(process.hrtime.bigint() - start) / 1e9);
      }
    },
  };
}

export function countedAspect(sink: InstrumentationSink): MethodAspect<string> {
  return {
    key: COUNTED,
    order: AspectOrder.counted,
    declare: (operation) => sink.declareCounted(operation),
    around: (operation, proceed) => async (args) => {
      try {
        const result = await proceed(args);
        sink.counted(operation, 'ok');
        return result;
      } catch (error) {
        sink.counted(operation, isCancellation(error) ? 'cancelled' : 'error');
        throw error;
      }
    },
  };
}
