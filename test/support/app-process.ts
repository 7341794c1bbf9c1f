import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { appNodeArgs } from '../../libs/config/src/heap-policy';

export type AppName = 'generator' | 'filter' | 'db-writer' | 'mongo-writer';

const PORT_VARIABLE: Record<AppName, string> = {
  generator: 'GENERATOR_PORT',
  filter: 'FILTER_PORT',
  'db-writer': 'DB_WRITER_PORT',
  'mongo-writer': 'MONGO_WRITER_PORT',
};

export const LOG_DIR = join(process.cwd(), 'data', 'test-logs');

/**
 * One app running as its own process from the build output (`npm run build`), exactly as in
 * production. Its stdout and stderr go to data/test-logs/<name>-<port>.log.
 */
export class AppProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<number | null> | undefined;

  constructor(
    readonly name: AppName,
    readonly port: number,
    private readonly env: Record<string, string>,
  ) {}

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    mkdirSync(LOG_DIR, { recursive: true });
    const log = createWriteStream(join(LOG_DIR, `${this.name}-${this.port}.log`), { flags: 'a' });
    const entry = join(process.cwd(), 'dist', 'apps', this.name, 'apps', this.name, 'src', 'main.js');
    const child = spawn(process.execPath, [...appNodeArgs(), entry], {
      env: {
        ...process.env,
        NODE_ENV: 'test',
        LOG_LEVEL: 'info',
        [PORT_VARIABLE[this.name]]: String(this.port),
        ...this.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    this.child = child;
    this.exited = once(child, 'exit').then(([code]) => code as number | null);
    try {
      await waitFor(
        async () => (await this.get('/health/live')).status === 200,
        30_000,
        `${this.name} to start`,
        () => (this.child?.exitCode !== null ? `${this.name} exited with ${String(this.child?.exitCode)}` : undefined),
      );
    } catch (error) {
      await this.kill(); // never leave a half-started app consuming behind the next spec
      throw error;
    }
    return this;
  }

  /** SIGTERM and wait for a clean exit; returns the exit code. Past the timeout: SIGKILL, then throws. */
  async stop(timeoutMs = 30_000): Promise<number | null> {
    if (!this.child || this.child.exitCode !== null) return this.child?.exitCode ?? null;
    this.child.kill('SIGTERM');
    try {
      return await withTimeout(this.exited as Promise<number | null>, timeoutMs, `${this.name} to stop`);
    } catch (error) {
      await this.kill();
      throw error;
    }
  }

  /** SIGKILL: a crash, nothing flushed. */
  async kill(): Promise<void> {
    if (!this.child || this.child.exitCode !== null) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  async get(path: string): Promise<{ status: number; body: string }> {
    try {
      const response = await fetch(`${this.baseUrl}${path}`);
      return { status: response.status, body: await response.text() };
    } catch {
      return { status: 0, body: '' };
    }
  }

  /** The value of one Prometheus sample, e.g. metric('dataflow_records_total', {stage: 'x'}). */
  async metric(name: string, labels: Record<string, string> = {}): Promise<number> {
    const { body } = await this.get('/metrics');
    let total = 0;
    for (const line of body.split('\n')) {
      if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
      const matches = Object.entries(labels).every(([key, value]) => line.includes(`${key}="${value}"`));
      if (matches) total += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
    return total;
  }
}

export async function waitFor(
  condition: () => Promise<boolean> | boolean,
  timeoutMs: number,
  what: string,
  abort?: () => string | undefined,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    const reason = abort?.();
    if (reason) throw new Error(`gave up waiting for ${what}: ${reason}`);
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
