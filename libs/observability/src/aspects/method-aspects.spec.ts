import 'reflect-metadata';
import { context, ROOT_CONTEXT, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { CancelledError } from '../cancellation';
import { Counted, countedAspect, CountedOutcome, InstrumentationSink, Timed, timedAspect } from '../instrumentation';
import { Traced, tracedAspect } from '../tracing/traced';
import { AspectOrder, declareAspect, type MethodAspect, type Proceed } from './method-aspect';
import { MethodAspects } from './method-aspects';

class Recorder implements InstrumentationSink {
  readonly declared: string[] = [];
  readonly timings: Array<[string, string | undefined, number]> = [];
  readonly counts: Array<[string, string]> = [];
  declareOperation(operation: string, sink: string | undefined): void {
    this.declared.push(`timed ${operation} ${sink ?? '-'}`);
  }
  declareCounted(operation: string): void {
    this.declared.push(`counted ${operation}`);
  }
  timed(operation: string, sink: string | undefined, seconds: number): void {
    this.timings.push([operation, sink, seconds]);
  }
  counted(operation: string, outcome: CountedOutcome): void {
    this.counts.push([operation, outcome]);
  }
}

/** An aspect that writes where it runs, to see the chain's order. */
function tracer(name: string, order: number, log: string[]): MethodAspect<string> {
  return {
    key: Symbol(name),
    order,
    around: (meta, proceed) => async (args) => {
      log.push(`${name}:${meta} in`);
      try {
        return await proceed(args);
      } finally {
        log.push(`${name}:${meta} out`);
      }
    },
  };
}

class Service {
  attempts = 0;

  @Counted('op')
  @Timed('op', { sink: 'postgres' })
  async add(a: number, b: number): Promise<number> {
    this.attempts++;
    await new Promise((resolve) => setTimeout(resolve, 20));
    return a + b;
  }

  @Counted('failing')
  async fail(): Promise<void> {
    await Promise.resolve();
    throw new Error('boom');
  }

  @Counted('abandoned')
  async abandon(): Promise<void> {
    await Promise.resolve();
    throw new CancelledError('the caller gave up');
  }
}

/** What AspectExplorer does for one method, without Nest. */
function woven<A extends unknown[]>(
  aspects: MethodAspects,
  instance: object,
  method: (...args: A) => Promise<unknown>,
) {
  const declared = aspects.declaredOn(method);
  const site = { className: instance.constructor.name, methodName: method.name };
  aspects.declare(declared, site);
  const inner: Proceed = (args) => method.apply(instance, args as A);
  const call = aspects.chain(declared, site, inner);
  return (...args: A): Promise<unknown> => call(args);
}

describe('aspect decorators', () => {
  it('only record metadata: the method called directly is the method', async () => {
    const service = new Service();
    await expect(service.add(2, 3)).resolves.toBe(5);
    expect(service.attempts).toBe(1);
  });

  it('accept async methods only (a synchronous one does not compile)', () => {
    class Sync {
      // @ts-expect-error: a synchronous method under an aspect decorator is a compile error
      @Timed('sync')
      now(): number {
        return 1;
      }
    }
    expect(new Sync().now()).toBe(1);
  });

  it('refuse the same aspect twice on one method', () => {
    const key = Symbol('twice');
    expect(() => {
      class Twice {
        @declareAspect(key, 'b')
        @declareAspect(key, 'a')
        run(): Promise<void> {
          return Promise.resolve();
        }
      }
      return Twice;
    }).toThrow(/declared twice/);
  });
});

describe('MethodAspects', () => {
  it('chains the declared aspects in their order, outermost first, whatever the decorator order', async () => {
    const log: string[] = [];
    const aspects = new MethodAspects();
    const inner = tracer('inner', 40, log);
    const outer = tracer('outer', 10, log);
    aspects.register(inner);
    aspects.register(outer);
    class Target {
      @declareAspect(inner.key, 'i')
      @declareAspect(outer.key, 'o')
      async run(): Promise<string> {
        await Promise.resolve();
        log.push('method');
        return 'ran';
      }
    }
    const target = new Target();
    await expect(woven(aspects, target, Target.prototype.run)()).resolves.toBe('ran');
    expect(log).toEqual(['outer:o in', 'inner:i in', 'method', 'inner:i out', 'outer:o out']);
  });

  it('refuses a second aspect for the same key', () => {
    const aspects = new MethodAspects();
    const aspect = tracer('a', AspectOrder.counted, []);
    aspects.register(aspect);
    expect(() => aspects.register(aspect)).toThrow(/registered twice/);
  });

  it('declares the metrics of @Timed and @Counted, then times and counts each call', async () => {
    const recorder = new Recorder();
    const aspects = new MethodAspects();
    aspects.register(countedAspect(recorder));
    aspects.register(timedAspect(recorder));
    const service = new Service();
    const add = woven(aspects, service, Service.prototype.add);
    const fail = woven(aspects, service, Service.prototype.fail);
    const abandon = woven(aspects, service, Service.prototype.abandon);
    expect(recorder.declared).toEqual(['counted op', 'timed op postgres', 'counted failing', 'counted abandoned']);
    await expect(add(2, 3)).resolves.toBe(5);
    await expect(fail()).rejects.toThrow('boom');
    await expect(abandon()).rejects.toThrow('the caller gave up');
    expect(recorder.counts).toEqual([
      ['op', 'ok'],
      ['failing', 'error'],
      ['abandoned', 'cancelled'],
    ]);
    const [operation, sink, seconds] = recorder.timings[0] ?? [];
    expect([operation, sink]).toEqual(['op', 'postgres']);
    expect(seconds).toBeGreaterThanOrEqual(0.015);
  });
});

describe('@Traced', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  const manager = new AsyncLocalStorageContextManager();

  beforeAll(() => {
    context.setGlobalContextManager(manager.enable());
    trace.setGlobalTracerProvider(provider);
  });

  afterAll(async () => {
    await provider.shutdown();
    manager.disable();
    trace.disable();
    context.disable();
  });

  beforeEach(() => exporter.reset());

  class Batches {
    seenSpan: string | undefined;

    @Traced('batch store', {
      parent: (contexts: readonly ReturnType<typeof context.active>[]) => contexts[0],
      links: (contexts: readonly ReturnType<typeof context.active>[]) => contexts.slice(1),
    })
    async store(contexts: readonly ReturnType<typeof context.active>[], fail = false): Promise<number> {
      await Promise.resolve();
      this.seenSpan = trace.getActiveSpan()?.spanContext().spanId;
      if (fail) throw new Error('refused');
      return contexts.length;
    }
  }

  it('runs the call in a span that starts and ends around it, child of the first context, linking the rest', async () => {
    const aspects = new MethodAspects();
    aspects.register(tracedAspect);
    const tracer = trace.getTracer('test');
    const parents = ['a', 'b', 'c'].map((name) => tracer.startSpan(name));
    const contexts = parents.map((span) => trace.setSpan(ROOT_CONTEXT, span));
    const batches = new Batches();
    const store = woven(aspects, batches, Batches.prototype.store);
    await expect(store(contexts)).resolves.toBe(3);
    await expect(store(contexts, true)).rejects.toThrow('refused');
    const [ok, failed] = exporter.getFinishedSpans();
    expect(ok?.name).toBe('batch store');
    expect(ok?.parentSpanContext?.spanId).toBe(parents[0]?.spanContext().spanId);
    expect(ok?.links.map((link) => link.context.spanId)).toEqual(parents.slice(1).map((p) => p.spanContext().spanId));
    expect(ok?.status.code).toBe(SpanStatusCode.UNSET);
    expect(failed?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'refused' });
    expect(batches.seenSpan).toBe(failed?.spanContext().spanId);
  });
});
