import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, existsSync, WriteStream } from 'node:fs';
import { resolve } from 'node:path';
import { appNodeArgs } from '../../libs/config/src/heap-policy';
import { parsePrometheus, Sample, sleep, waitFor } from './util';

export type AppName = 'generator' | 'filter' | 'db-writer' | 'mongo-writer';

export const APP_NAMES: readonly AppName[] = ['generator', 'filter', 'db-writer', 'mongo-writer'];

/** Main module of an app in a Nest build output directory. */
export function entryPoint(dist: string, name: AppName): string {
  return resolve(dist, 'apps', name, 'apps', name, 'src', 'main.js');
}

export function missingBuilds(dist: string): AppName[] {
  return APP_NAMES.filter((name) => !existsSync(entryPoint(dist, name)));
}

/** One app of the build output run as its own process; stdout and stderr go to its log file. */
export class BenchApp {
  private child: ChildProcess | undefined;
  private exited: Promise<number | null> | undefined;
  private log: WriteStream | undefined;
  /** When the process was spawned (epoch ms). */
  startedAt = 0;

  constructor(
    readonly name: AppName,
    readonly port: number,
    private readonly entry: string,
    private readonly env: Record<string, string>,
    readonly logFile: string,
    private readonly nodeArgs: readonly string[] = [],
  ) {}

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.running ? this.child?.pid : undefined;
  }

  /** Starts the process and waits until `/health/live` answers 200. */
  async start(timeoutMs = 60_000): Promise<void> {
    this.log = createWriteStream(this.logFile, { flags: 'a' });
    this.startedAt = Date.now();
    const child = spawn(process.execPath, [...appNodeArgs(), ...this.nodeArgs, this.entry], {
      env: { ...process.env, ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.pipe(this.log, { end: false });
    child.stderr?.pipe(this.log, { end: false });
    this.child = child;
    this.exited = once(child, 'exit').then(([code]) => code as number | null);
    const live = await waitFor(
      async () => !this.running || (await this.get('/health/live')).status === 200,
      timeoutMs,
      100,
    );
    if (!this.running) throw new Error(`${this.name} exited during start-up; see ${this.logFile}`);
    if (!live) throw new Error(`${this.name} did not answer /health/live within ${timeoutMs} ms; see ${this.logFile}`);
  }

  async ready(timeoutMs = 60_000): Promise<void> {
    const ok = await waitFor(async () => (await this.get('/health/ready')).status === 200, timeoutMs, 200);
    if (!ok) throw new Error(`${this.name} not ready within ${timeoutMs} ms; see ${this.logFile}`);
  }

  /** SIGTERM (the app drains), SIGKILL after `timeoutMs`. Returns the exit code (null: killed). */
  async stop(timeoutMs = 40_000): Promise<number | null> {
    if (!this.running) return this.child?.exitCode ?? null;
    this.child?.kill('SIGTERM');
    const code = await Promise.race([this.exited, sleep(timeoutMs).then(() => 'timeout' as const)]);
    if (code === 'timeout') {
      this.child?.kill('SIGKILL');
      await this.exited;
      return null;
    }
    this.log?.end();
    return code ?? null;
  }

  killNow(): void {
    if (this.running) this.child?.kill('SIGKILL');
  }

  async get(path: string, timeoutMs = 2000): Promise<{ status: number; body: string }> {
    try {
      const response = await fetch(`http://127.0.0.1:${this.port}${path}`, { signal: AbortSignal.timeout(timeoutMs) });
      return { status: response.status, body: await response.text() };
    } catch {
      return { status: 0, body: '' };
    }
  }

  async metrics(timeoutMs = 2000): Promise<Sample[] | undefined> {
    const { status, body } = await this.get('/metrics', timeoutMs);
    return status === 200 ? parsePrometheus(body) : undefined;
  }
}
