import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { register } from 'prom-client';
import type * as AppShellLib from '@dataflow/app-shell';
import { parsePrometheus } from '../../scripts/kit/prometheus';

/**
 * Module-tier support: an app's real root module booted in the test process with `@nestjs/testing`
 * and started the way `runShell` starts it, against the real services.
 *
 * Libraries and apps are imported at run time (`load`), once Nest's own ES modules have loaded: a
 * CommonJS module among their dependencies requires `@nestjs/common`, which jest can only do after
 * it. Each spec file boots one app (prom-client's registry and the tracer are per process).
 */
export async function load<T>(name: string): Promise<T> {
  return (await import(name)) as T;
}

/** Sets `env` (on top of this process's environment), then builds and starts `definition`. */
export async function bootApp<Config extends Record<string, unknown>>(
  definition: AppShellLib.AppDefinition<Config>,
  env: Record<string, string>,
): Promise<INestApplication> {
  Object.assign(process.env, { LOG_LEVEL: 'silent', OTEL_TRACES_EXPORTER: 'none' }, env);
  const { appModule, startApp } = await load<typeof AppShellLib>('@dataflow/app-shell');
  const moduleRef = await Test.createTestingModule({ imports: [await appModule(definition)] }).compile();
  const nest = moduleRef.createNestApplication({ logger: false });
  return startApp(nest, definition);
}

/** The value of the series `name{labels…}` in this process's metrics; undefined when it does not exist. */
export async function metric(name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const samples = parsePrometheus(await register.metrics());
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

/** Whether `instance.method` is the woven one (AspectExplorer replaced it on the instance). */
export function isWoven(instance: object, method: string): boolean {
  const own = Object.getOwnPropertyDescriptor(instance, method)?.value as unknown;
  const declared = (Object.getPrototypeOf(instance) as Record<string, unknown>)[method];
  return typeof own === 'function' && typeof declared === 'function' && own !== declared;
}
