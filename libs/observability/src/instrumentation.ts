/**
 * `@Timed` and `@Counted`: metrics as declarations on the method instead of timers written into
 * its body. They wrap the method where it is declared (so they measure each call of it, innermost,
 * also when a resilience policy around it retries) and feed the metrics of the running app once
 * {@link bindInstrumentation} has been given them; until then (unit tests, tools) they only pass the
 * call through.
 */

export interface InstrumentationSink {
  /** `operation` took `seconds`; `sink` also names a sink write (`dataflow_sink_write_duration_seconds`). */
  timed(operation: string, sink: string | undefined, seconds: number): void;
  counted(operation: string, outcome: 'ok' | 'error'): void;
}

let active: InstrumentationSink | undefined;

/** What the decorators in the loaded code declare, so the metrics can show them (at 0) from the start. */
export const declaredInstruments = {
  timed: new Map<string, string | undefined>(),
  counted: new Set<string>(),
};

/** Called by the app's metrics service when it is created; `undefined` unbinds. */
export function bindInstrumentation(sink: InstrumentationSink | undefined): void {
  active = sink;
}

export interface TimedOptions {
  /** Also observe the call as a write to this sink (`dataflow_sink_write_duration_seconds{sink}`). */
  readonly sink?: string;
}

/** Observes the method's duration (until its promise settles, for async methods). */
export function Timed(operation: string, options: TimedOptions = {}): MethodDecorator {
  declaredInstruments.timed.set(operation, options.sink);
  return (_target, _key, descriptor) => {
    wrap(descriptor, (seconds) => active?.timed(operation, options.sink, seconds));
  };
}

/** Counts the method's calls by outcome: `ok`, or `error` when it throws or its promise rejects. */
export function Counted(operation: string): MethodDecorator {
  declaredInstruments.counted.add(operation);
  return (_target, _key, descriptor) => {
    wrap(descriptor, (_seconds, ok) => active?.counted(operation, ok ? 'ok' : 'error'));
  };
}

type Method = (this: unknown, ...args: unknown[]) => unknown;

function wrap(descriptor: PropertyDescriptor, settled: (seconds: number, ok: boolean) => void): void {
  const original = descriptor.value as Method;
  if (typeof original !== 'function') throw new TypeError('@Timed and @Counted apply to methods only');
  const wrapped: Method = function (this: unknown, ...args: unknown[]): unknown {
    if (active === undefined) return original.apply(this, args);
    const start = process.hrtime.bigint();
    const done = (ok: boolean): void => settled(Number(process.hrtime.bigint() - start) / 1e9, ok);
    let result: unknown;
    try {
      result = original.apply(this, args);
    } catch (error) {
      done(false);
      throw error;
    }
    if (!isPromiseLike(result)) {
      done(true);
      return result;
    }
    return result.then(
      (value) => {
        done(true);
        return value;
      },
      (error: unknown) => {
        done(false);
        throw error;
      },
    );
  };
  // Other decorators (Nest's SetMetadata, @Resilient) may have put metadata on the original.
  for (const key of Reflect.getMetadataKeys(original) as unknown[]) {
    Reflect.defineMetadata(key, Reflect.getMetadata(key, original) as unknown, wrapped);
  }
  Object.defineProperty(wrapped, 'name', { value: original.name });
  descriptor.value = wrapped;
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}
