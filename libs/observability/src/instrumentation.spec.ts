import 'reflect-metadata';
import { bindInstrumentation, Counted, InstrumentationSink, Timed } from './instrumentation';

class Recorder implements InstrumentationSink {
  readonly timings: Array<[string, string | undefined, number]> = [];
  readonly counts: Array<[string, string]> = [];
  timed(operation: string, sink: string | undefined, seconds: number): void {
    this.timings.push([operation, sink, seconds]);
  }
  counted(operation: string, outcome: 'ok' | 'error'): void {
    this.counts.push([operation, outcome]);
  }
}

const MARK = 'test:mark';

/** Like Nest's SetMetadata on a method: metadata on the function itself. */
const Mark =
  (value: string): MethodDecorator =>
  (_target, _key, descriptor) => {
    Reflect.defineMetadata(MARK, value, descriptor.value as object);
  };

class Service {
  calls = 0;

  @Timed('sync.op')
  @Counted('sync.op')
  add(a: number, b: number): number {
    this.calls++;
    return a + b;
  }

  @Timed('async.op', { sink: 'postgres' })
  async slow(ms: number): Promise<string> {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return 'done';
  }

  @Counted('failing')
  async fail(): Promise<void> {
    await Promise.resolve();
    throw new Error('boom');
  }

  @Counted('throwing')
  throwNow(): void {
    throw new Error('sync boom');
  }

  @Timed('marked')
  @Mark('kept')
  marked(): number {
    return 1;
  }
}

describe('@Timed and @Counted', () => {
  let recorder: Recorder;

  beforeEach(() => {
    recorder = new Recorder();
    bindInstrumentation(recorder);
  });

  afterEach(() => bindInstrumentation(undefined));

  it('time and count a synchronous method, keeping `this` and the result', () => {
    const service = new Service();
    expect(service.add(2, 3)).toBe(5);
    expect(service.calls).toBe(1);
    expect(recorder.counts).toEqual([['sync.op', 'ok']]);
    expect(recorder.timings).toHaveLength(1);
    expect(recorder.timings[0]?.[0]).toBe('sync.op');
  });

  it('time an async method until its promise settles, with the sink label', async () => {
    await expect(new Service().slow(30)).resolves.toBe('done');
    const [operation, sink, seconds] = recorder.timings[0] ?? [];
    expect(operation).toBe('async.op');
    expect(sink).toBe('postgres');
    expect(seconds).toBeGreaterThanOrEqual(0.025);
  });

  it('count a rejected promise and a thrown error as errors and let them through', async () => {
    const service = new Service();
    await expect(service.fail()).rejects.toThrow('boom');
    expect(() => service.throwNow()).toThrow('sync boom');
    expect(recorder.counts).toEqual([
      ['failing', 'error'],
      ['throwing', 'error'],
    ]);
  });

  it('keep metadata other decorators put on the method', () => {
    expect(Reflect.getMetadata(MARK, Service.prototype.marked)).toBe('kept');
    expect(Service.prototype.marked.name).toBe('marked');
  });

  it('only pass calls through while no metrics are bound', () => {
    bindInstrumentation(undefined);
    expect(new Service().add(1, 1)).toBe(2);
    expect(recorder.counts).toEqual([]);
    expect(recorder.timings).toEqual([]);
  });
});
