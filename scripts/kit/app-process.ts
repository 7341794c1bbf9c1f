import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, existsSync, WriteStream } from 'node:fs';
import { resolve } from 'node:path';
import { appNodeArgs } from '../../libs/config/src/heap-policy';
import { metricSum, parsePrometheus, type Sample } from './prometheus';
import { waitUntil } from './wait';

export type AppName = 'generator' | 'filter' | 'db-writer' | 'mongo-writer';

export const APP_NAMES: readonly AppName[] = ['generator', 'filter', 'db-writer', 'mongo-writer'];

/** The variable that sets each app's HTTP port. */
export const PORT_VARIABLE: Readonly<Record<AppName, string>> = {
  generator: 'GENERATOR_PORT',
  filter: 'FILTER_PORT',
  'db-writer': 'DB_WRITER_PORT',
  'mongo-writer': 'MONGO_WRITER_PORT',
};

/** Main module of an app in a Nest build output directory. */
export function entryPoint(name: AppName, dist = 'dist'): string {
  return resolve(dist, 'apps', name, 'main.js');
}

export function missingBuilds(dist = 'dist'): AppName[] {
  return APP_NAMES.filter((name) => !existsSync(entryPoint(name, dist)));
}

/** Where a tool runs the apps: their build, its run directory, and the first of their ports. */
export interface AppsPlace {
  readonly dist: string;
  readonly runDir: string;
  readonly basePort: number;
}

export interface AppProcessOptions {
  readonly app: AppName;
  /** What logs and errors call it (default the app's name), e.g. a second instance of one app. */
  readonly name?: string;
  readonly port: number;
  /** On top of this process's environment; every start of the instance uses the same. */
  readonly env: Readonly<Record<string, string>>;
  /** stdout and stderr of every lifetime, appended. */
  readonly logFile: string;
  /** Besides the apps' own (the memory policy, see libs/config/src/heap-policy.ts). */
  readonly nodeArgs?: readonly string[];
  readonly dist?: string;
  /** In a process group of its own, so a Ctrl-C in the terminal reaches only the harness. */
  readonly detached?: boolean;
  /** Ends every wait for the process at once (a harness that was interrupted). */
  readonly signal?: AbortSignal;
}

/**
 * One app run from the build output as its own process, exactly as in production: started and
 * stopped by signals, watched through its HTTP endpoints. The one helper behind the integration
 * tests, `npm run chaos`, `npm run bench` and `npm run attack`.
 */
export class AppProcess {
  readonly app: AppName;
  readonly name: string;
  readonly port: number;
  readonly logFile: string;
  /** How many times it was started. */
  starts = 0;
  /** When the last lifetime was spawned (epoch ms). */
  startedAt = 0;
  /** Exit code (or signal) of each ended lifetime. */
  readonly exits: string[] = [];
  private child: ChildProcess | undefined;
  private exited: Promise<number | null> | undefined;
  private log: WriteStream | undefined;

  constructor(private readonly options: AppProcessOptions) {
    this.app = options.app;
    this.name = options.name ?? options.app;
    this.port = options.port;
    this.logFile = options.logFile;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.running ? this.child?.pid : undefined;
  }

  /**
   * Starts the process and waits until `/health/live` answers 200. A process that exits meanwhile
   * or does not answer in time is killed (never left consuming behind the next run) and the call
   * throws, naming the log.
   */
  async start(timeoutMs = 60_000): Promise<this> {
    if (this.running) throw new Error(`${this.name} is already running`);
    this.log ??= createWriteStream(this.logFile, { flags: 'a' });
    this.starts++;
    this.startedAt = Date.now();
    this.log.write(`\n===== start #${this.starts} of ${this.name} at ${new Date().toISOString()} =====\n`);
    const child = spawn(
      process.execPath,
      [...appNodeArgs(), ...(this.options.nodeArgs ?? []), entryPoint(this.app, this.options.dist)],
      {
        env: { ...process.env, ...this.options.env },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: this.options.detached,
      },
    );
    child.stdout?.pipe(this.log, { end: false });
    child.stderr?.pipe(this.log, { end: false });
    this.child = child;
    this.exited = once(child, 'exit').then(([code, signal]) => {
      this.exits.push(code !== null ? `exit ${String(code)}` : `signal ${String(signal)}`);
      return code as number | null;
    });
    try {
      await this.waitFor(async () => (await this.get('/health/live')).status === 200, 'to start', timeoutMs);
    } catch (error) {
      await this.kill();
      throw error;
    }
    return this;
  }

  /** Waits until `/health/ready` answers 200. */
  async ready(timeoutMs = 60_000): Promise<void> {
    await this.waitFor(async () => (await this.get('/health/ready')).status === 200, 'to be ready', timeoutMs);
  }

  /** SIGTERM (the app drains); SIGKILL after `timeoutMs`. The exit code; null when it had to be killed. */
  async stop(timeoutMs = 40_000): Promise<number | null> {
    if (!this.running) return this.child?.exitCode ?? null;
    this.child?.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
    const result = await Promise.race([this.exited, timeout]).finally(() => clearTimeout(timer));
    if (result === 'timeout') {
      this.log?.write(`\n===== ${this.name} did not stop within ${timeoutMs} ms; SIGKILL =====\n`);
      await this.kill();
      return null;
    }
    return result ?? null;
  }

  /** SIGKILL: a crash, nothing flushed. Resolves once the process is gone. */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.child?.kill('SIGKILL');
    await this.exited;
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

  /** One request; status 0 when the app does not answer within `timeoutMs`. */
  async get(path: string, timeoutMs = 2000): Promise<{ status: number; body: string }> {
    try {
      const response = await fetch(`${this.baseUrl}${path}`, { signal: AbortSignal.timeout(timeoutMs) });
      return { status: response.status, body: await response.text() };
    } catch {
      return { status: 0, body: '' };
    }
  }

  /** Every sample of `/metrics`, or undefined if the app does not answer. */
  async metrics(timeoutMs = 2000): Promise<Sample[] | undefined> {
    const { status, body } = await this.get('/metrics', timeoutMs);
    return status === 200 ? parsePrometheus(body) : undefined;
  }

  /** The sum of one metric's samples with these labels (0 if none, or if the app does not answer). */
  async metric(name: string, labels: Record<string, string> = {}): Promise<number> {
    return metricSum(await this.metrics(), name, labels) ?? 0;
  }

  private async waitFor(condition: () => Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
    await waitUntil(condition, timeoutMs, `${this.name} ${what} (see ${this.logFile})`, {
      intervalMs: 100,
      signal: this.options.signal,
      giveUp: () => (this.running ? undefined : `it exited (${this.exits.at(-1) ?? '?'})`),
    });
  }
}
