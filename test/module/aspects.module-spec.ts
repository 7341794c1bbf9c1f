import 'reflect-metadata';
import { Controller, Get, Injectable, type INestApplication } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { Test } from '@nestjs/testing';
import { register } from 'prom-client';
import type * as ObservabilityLib from '@dataflow/observability';
import type * as ResilienceLib from '@dataflow/resilience';
import { parsePrometheus } from '../../scripts/kit/prometheus';

/**
 * The aspect wiring in a real Nest application built from the libraries' modules: `@Resilient`,
 * `@Counted` and `@Timed` apply to a provider's method however it is called, and to an HTTP
 * handler on each request, in one order (counted once, retried by the policy, each attempt timed).
 *
 * The libraries are imported once Nest's own ES modules have loaded (see `loadLibraries`): a CommonJS
 * module among their dependencies requires `@nestjs/common`, which jest can only do after it.
 */

/** Fails the first `failures` calls after each reset, then answers. */
class Flaky {
  calls = 0;
  failures = 0;

  attempt(): string {
    this.calls++;
    if (this.calls <= this.failures) throw new Error(`attempt ${this.calls} failed`);
    return `ok after ${this.calls}`;
  }
}

const flaky = new Flaky();

/** A library imported at run time (jest maps the name; the type comes from its static import above). */
async function importLibrary<T>(name: string): Promise<T> {
  return (await import(name)) as T;
}

async function loadLibraries() {
  const { Counted, ObservabilityModule, Timed } =
    await importLibrary<typeof ObservabilityLib>('@dataflow/observability');
  const { Resilient, ResilienceModule } = await importLibrary<typeof ResilienceLib>('@dataflow/resilience');

  @Injectable()
  class Lookup {
    @Counted('lookup')
    @Resilient('flaky')
    @Timed('lookup')
    async find(): Promise<string> {
      await Promise.resolve();
      return flaky.attempt();
    }

    /** Calls `find` through `this`, as a provider's own code does. */
    async viaThis(): Promise<string> {
      return this.find();
    }
  }

  @Controller('lookup')
  class LookupController {
    @Get()
    @Counted('lookup.http')
    @Resilient('flaky')
    async get(): Promise<{ answer: string }> {
      await Promise.resolve();
      return { answer: flaky.attempt() };
    }
  }

  @Injectable()
  class Misnamed {
    @Resilient('no-such-policy')
    async run(): Promise<void> {
      await Promise.resolve();
    }
  }

  /** The libraries' modules as an app imports them, with the `flaky` policy (or none). */
  const modules = (withPolicy: boolean) => [
    ConfigModule.forRoot({ isGlobal: true, ignoreEnvFile: true, load: [() => ({ LOG_LEVEL: 'silent' })] }),
    ObservabilityModule.forRoot({ app: 'aspects-test' }),
    ResilienceModule.forRootAsync({
      useFactory: (): ResilienceLib.PolicyCatalogue =>
        withPolicy ? { flaky: { retry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 2 } } } : {},
    }),
  ];
  return { Lookup, LookupController, Misnamed, modules };
}

/** The value of the series `name{labels…}`; undefined when the series does not exist. */
async function metric(name: string, labels: Record<string, string>): Promise<number | undefined> {
  const samples = parsePrometheus(await register.metrics());
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

describe('aspects in a Nest application (module tier)', () => {
  let app: INestApplication;
  let base: string;
  let lib: Awaited<ReturnType<typeof loadLibraries>>;

  beforeAll(async () => {
    lib = await loadLibraries();
    const moduleRef = await Test.createTestingModule({
      imports: lib.modules(true),
      controllers: [lib.LookupController],
      providers: [lib.Lookup],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.listen(0, '127.0.0.1');
    base = `${await app.getUrl()}/lookup`.replace('[::1]', '127.0.0.1');
  });

  afterAll(async () => {
    await app.close();
  });

  beforeEach(() => {
    flaky.calls = 0;
    flaky.failures = 0;
  });

  it('shows the declared operations at 0 before any call', async () => {
    for (const operation of ['lookup', 'lookup.http']) {
      expect(await metric('dataflow_operations_total', { operation, outcome: 'ok' })).toBe(0);
      expect(await metric('dataflow_operations_total', { operation, outcome: 'error' })).toBe(0);
    }
    expect(await metric('dataflow_operation_duration_seconds_count', { operation: 'lookup' })).toBe(0);
  });

  it('applies a provider method’s policy and metrics, also when the provider calls it through `this`', async () => {
    flaky.failures = 2;
    await expect(app.get(lib.Lookup).viaThis()).resolves.toBe('ok after 3');
    expect(await metric('dataflow_retries_total', { operation: 'flaky' })).toBe(2);
    expect(await metric('dataflow_operations_total', { operation: 'lookup', outcome: 'ok' })).toBe(1);
    // Innermost: each of the three attempts is timed.
    expect(await metric('dataflow_operation_duration_seconds_count', { operation: 'lookup' })).toBe(3);
  });

  it('applies a handler’s policy and metrics on each request', async () => {
    flaky.failures = 1;
    const response = await fetch(base);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ answer: 'ok after 2' });
    expect(await metric('dataflow_operations_total', { operation: 'lookup.http', outcome: 'ok' })).toBe(1);

    flaky.calls = 0;
    flaky.failures = 10;
    expect((await fetch(base)).status).toBe(500);
    expect(flaky.calls).toBe(4);
    expect(await metric('dataflow_operations_total', { operation: 'lookup.http', outcome: 'error' })).toBe(1);
  });

  it('refuses to start when a method names a policy that does not exist', async () => {
    // A second app in this process: the metrics of the first one go (prom-client's registry is global).
    register.clear();
    const moduleRef = await Test.createTestingModule({
      imports: lib.modules(false),
      providers: [lib.Misnamed],
    }).compile();
    const other = moduleRef.createNestApplication({ logger: false });
    await expect(other.init()).rejects.toThrow('Misnamed.run: no resilience policy named "no-such-policy"');
    await other.close();
  });
});
