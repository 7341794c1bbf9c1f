import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, existsSync, WriteStream } from 'node:fs';
import { join } from 'node:path';
import { appNodeArgs } from '../../libs/config/src/heap-policy';
import { pause, waitUntil } from './wait';

export type AppName = 'generator' | 'filter' | 'db-writer' | 'mongo-writer';

export const APP_NAMES: readonly AppName[] = ['generator', 'filter', 'db-writer', 'mongo-writer'];

/**
 * The processes of a chaos run: one of each app, and the mongo-writer twice, active and standby on
 * the single-active-consumer queue, as the Helm chart runs it.
 */
export type InstanceName = AppName | 'mongo-writer-b';

export const INSTANCE_NAMES: readonly InstanceName[] = [...APP_NAMES, 'mongo-writer-b'];

export const MONGO_WRITERS: readonly InstanceName[] = ['mongo-writer', 'mongo-writer-b'];

export function appOf(instance: InstanceName): AppName {
  return instance === 'mongo-writer-b' ? 'mongo-writer' : instance;
}

/** One Prometheus sample: `name{labels} value`. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export function entryPoint(name: AppName): string {
  return join(process.cwd(), 'dist', 'apps', name, 'apps', name, 'src', 'main.js');
}

export function missingBuilds(): AppName[] {
  return APP_NAMES.filter((name) => !existsSync(entryPoint(name)));
}

/**
 * One app run from the build output as its own process, in its own process group (so a Ctrl-C in
 * the terminal reaches only the chaos runner, which then stops the apps itself). Every start of
 * the same app uses the same environment; stdout and stderr of all its lifetimes go to one log.
 */
export class ChaosApp {
  private child: ChildProcess | undefined;
  private exited: Promise<number | null> | undefined;
  private log: WriteStream | undefined;
  /** How many times it was started. */
  starts = 0;
  /** Exit code (or signal) of each ended lifetime, for the report. */
  readonly exits: string[] = [];

  constructor(
    readonly name: InstanceName,
    readonly port: number,
    private readonly env: Record<string, string>,
    readonly logFile: string,
  ) {}

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.running ? this.child?.pid : undefined;
  }

  /** Starts the process and waits until `/health/live` answers 200. */
  async start(timeoutMs: number): Promise<void> {
    if (this.running) throw new Error(`${this.name} is already running`);
    this.log ??= createWriteStream(this.logFile, { flags: 'a' });
    this.starts++;
    this.log.write(`\n===== chaos: start #${this.starts} of ${this.name} at ${new Date().toISOString()} =====\n`);
    const child = spawn(process.execPath, [...appNodeArgs(), entryPoint(appOf(this.name))], {
      env: { ...process.env, ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    child.stdout?.pipe(this.log, { end: false });
    child.stderr?.pipe(this.log, { end: false });
    this.child = child;
    this.exited = once(child, 'exit').then(([code, signal]) => {
      this.exits.push(code !== null ? `exit ${String(code)}` : `signal ${String(signal)}`);
      return code as number | null;
    });
    await waitUntil(async () => (await this.get('/health/live')).status === 200, timeoutMs, `${this.name} to start`, {
      giveUp: () =>
        child.exitCode !== null || child.signalCode !== null
          ? `${this.name} exited during start-up (${this.exits.at(-1) ?? '?'}); see ${this.logFile}`
          : undefined,
    });
  }

  /** Waits until `/health/ready` answers 200. */
  async ready(timeoutMs: number): Promise<void> {
    await waitUntil(async () => (await this.get('/health/ready')).status === 200, timeoutMs, `${this.name} ready`, {
      giveUp: () => (this.running ? undefined : `${this.name} is not running; see ${this.logFile}`),
    });
  }

  /** SIGKILL: a crash, nothing flushed. Resolves once the process is gone. */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.child?.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM (the app drains), then SIGKILL after `timeoutMs`. Returns the exit code. */
  async stop(timeoutMs: number): Promise<number | null> {
    if (!this.running) return this.child?.exitCode ?? null;
    this.child?.kill('SIGTERM');
    const result = await Promise.race([this.exited, pause(timeoutMs).then(() => 'timeout' as const)]);
    if (result === 'timeout') {
      this.log?.write(`\n===== chaos: ${this.name} did not stop within ${timeoutMs} ms; SIGKILL =====\n`);
      await this.kill();
      return null;
    }
    return result ?? null;
  }

  /** Synchronous last resort for process exit handlers. */
  killNow(): void {
    if (this.running) this.child?.kill('SIGKILL');
  }

  /** Resolves when the current lifetime ends. */
  waitExit(): Promise<number | null> {
    return this.exited ?? Promise.resolve(null);
  }

  closeLog(): void {
    this.log?.end();
    this.log = undefined;
  }

  async get(path: string, timeoutMs = 2000): Promise<{ status: number; body: string }> {
    try {
      const response = await fetch(`${this.baseUrl}${path}`, { signal: AbortSignal.timeout(timeoutMs) });
      return { status: response.status, body: await response.text() };
    } catch {
      return { status: 0, body: '' };
    }
  }

  /** Every sample of `/metrics`, or undefined if the app does not answer. */
  async metrics(timeoutMs = 1500): Promise<Sample[] | undefined> {
    const { status, body } = await this.get('/metrics', timeoutMs);
    return status === 200 ? parsePrometheus(body) : undefined;
  }
}

/** Parses Prometheus text format (the subset prom-client writes). */
export function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line.length === 0 || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    const labelText = match[2] ?? '';
    for (const pair of labelText.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[pair[1] as string] = (pair[2] as string).replace(/\\(.)/g, '$1');
    }
    samples.push({ name: match[1] as string, labels, value: Number(match[3]) });
  }
  return samples;
}

/** Sum of the samples of `name` whose labels include all of `labels`. */
export function metricSum(
  samples: readonly Sample[] | undefined,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  if (!samples) return undefined;
  let total = 0;
  for (const sample of samples) {
    if (sample.name !== name) continue;
    if (Object.entries(labels).every(([key, value]) => sample.labels[key] === value)) total += sample.value;
  }
  return total;
}

/** `dataflow_circuit_state` per breaker name. */
export function breakerStates(samples: readonly Sample[] | undefined): Map<string, number> {
  const states = new Map<string, number>();
  for (const sample of samples ?? []) {
    if (sample.name === 'dataflow_circuit_state' && sample.labels.breaker !== undefined) {
      states.set(sample.labels.breaker, sample.value);
    }
  }
  return states;
}
