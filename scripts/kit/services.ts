import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { resolveSettings } from '../../cli/lib/settings';
import { waitUntil } from './wait';

/**
 * The one way the tools and the tests control the local services that scripts/infra.sh runs:
 * stop and start RabbitMQ, PostgreSQL and FerretDB, hang FerretDB, read the queues, and change the
 * broker's delivery acknowledgement timeout. Every command is asynchronous, so a run that watches
 * the pipeline keeps watching while a service stops or starts.
 */

/** Where RabbitMQ, PostgreSQL and MongoDB answer. */
export interface ServiceUrls {
  readonly rabbitmqUrl: string;
  readonly databaseUrl: string;
  readonly mongodbUrl: string;
}

/**
 * The URLs given, else RABBITMQ_URL, DATABASE_URL and MONGODB_URL, else the local services: the
 * CLI's rules (cli/lib/settings.ts), which are the apps' defaults.
 */
export function serviceUrls(given: Partial<ServiceUrls> = {}, env: NodeJS.ProcessEnv = process.env): ServiceUrls {
  const { rabbitmqUrl, databaseUrl, mongodbUrl } = resolveSettings(given, env);
  return { rabbitmqUrl, databaseUrl, mongodbUrl };
}

/** The system tools live in the sbin directories, which a CI or npm shell may lack. */
export const PATH = `${process.env.PATH ?? '/usr/bin:/bin'}:/usr/local/sbin:/usr/sbin:/sbin`;

export interface CommandResult {
  readonly code: number;
  readonly output: string;
}

/** Runs a command (no shell) with a time limit; never throws, the exit code tells. */
export function run(command: string, args: readonly string[], timeoutMs = 60_000): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { timeout: timeoutMs, killSignal: 'SIGKILL', env: { ...process.env, PATH }, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const output = `${stdout}${stderr}`.trim();
        if (!error) return resolve({ code: 0, output });
        const code = typeof error.code === 'number' ? error.code : -1;
        resolve({ code, output: output || error.message });
      },
    );
  });
}

/** Runs a command and throws with its output if it fails. */
export async function mustRun(command: string, args: readonly string[], timeoutMs = 60_000): Promise<string> {
  const result = await run(command, args, timeoutMs);
  if (result.code !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed (${result.code}): ${result.output.slice(-500)}`);
  }
  return result.output;
}

// ------------------------------------------------------------------ the three services

export async function rabbitmqStop(): Promise<void> {
  await mustRun('rabbitmqctl', ['stop_app'], 120_000);
}

export async function rabbitmqStart(): Promise<void> {
  await mustRun('rabbitmqctl', ['start_app'], 120_000);
  await mustRun('rabbitmqctl', ['await_startup'], 120_000);
}

export const PG = ['15', 'main'] as const;

export async function postgresStop(): Promise<void> {
  await mustRun('pg_ctlcluster', [...PG, 'stop', '-m', 'fast'], 120_000);
}

export async function postgresStart(): Promise<void> {
  // `start` fails when it already runs; `status` exits 0 exactly then.
  if ((await run('pg_ctlcluster', [...PG, 'status'])).code !== 0) {
    await mustRun('pg_ctlcluster', [...PG, 'start'], 120_000);
  }
  await waitUntil(
    async () => (await run('pg_isready', ['-q', '-h', '127.0.0.1', '-p', '5432', '-t', '2'])).code === 0,
    60_000,
    'PostgreSQL to accept connections',
    { intervalMs: 500 },
  );
}

export const INFRA = join(process.cwd(), 'scripts', 'infra.sh');

export async function ferretdbStop(): Promise<void> {
  await mustRun(INFRA, ['stop', 'ferretdb'], 120_000);
}

/**
 * Retried: `infra.sh start` first checks the installed binary with `ferretdb --version | grep -q`
 * under `pipefail`, which fails now and then (grep exits at the first match, ferretdb gets SIGPIPE)
 * and then rebuilds FerretDB; a second such failure makes the start fail.
 */
export async function ferretdbStart(): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const result = await run(INFRA, ['start', 'ferretdb'], 300_000);
    if (result.code === 0) return;
    if (attempt >= 3) {
      throw new Error(`${INFRA} start ferretdb failed ${attempt} times: ${result.output.slice(-500)}`);
    }
    console.log(`${INFRA} start ferretdb failed (${result.output.split('\n').at(-1) ?? ''}); retrying`);
  }
}

/** `scripts/infra.sh status`: exits 0 only when all three answer. */
export async function servicesStatus(): Promise<CommandResult> {
  return run(INFRA, ['status'], 60_000);
}

// ------------------------------------------------------------------ RabbitMQ queues

export interface QueueCounts {
  /** Ready plus unacknowledged messages. */
  readonly messages: number;
  readonly unacknowledged: number;
  readonly consumers: number;
}

/** `rabbitmqctl list_queues`: counts unacknowledged messages too, unlike queue.declare-ok. */
export async function listQueues(): Promise<Map<string, QueueCounts> | undefined> {
  const columns = ['messages', 'messages_unacknowledged', 'consumers'];
  const result = await run('rabbitmqctl', ['-q', 'list_queues', 'name', ...columns], 30_000);
  if (result.code !== 0) return undefined;
  const counts = new Map<string, QueueCounts>();
  for (const line of result.output.split('\n')) {
    const [name, ...values] = line.trim().split(/\s+/);
    if (name === undefined || values.length !== columns.length || !values.every((v) => /^\d+$/.test(v))) continue;
    const [messages, unacknowledged, consumers] = values.map(Number) as [number, number, number];
    counts.set(name, { messages, unacknowledged, consumers });
  }
  return counts;
}

/** One column of `listQueues` for one queue (NaN while the broker does not answer or has no such queue). */
export async function queueCount(queue: string, column: keyof QueueCounts): Promise<number> {
  return (await listQueues())?.get(queue)?.[column] ?? Number.NaN;
}

// ------------------------------------------------------------------ the delivery acknowledgement timeout

async function rabbitSetting(name: string): Promise<number | undefined> {
  const result = await run('rabbitmqctl', ['eval', `application:get_env(rabbit, ${name}).`]);
  const match = /\{ok,(\d+)\}/.exec(result.output);
  return match ? Number(match[1]) : undefined;
}

/**
 * Sets RabbitMQ's delivery acknowledgement timeout (`consumer_timeout`) for channels opened from
 * now on, checked every second rather than every minute, and returns what was set before: the
 * chaos run sets it short so that a database outage outlasts it. Never unset
 * `channel_tick_interval`: no channel can open without it.
 */
export interface ConsumerTimeout {
  readonly timeoutMs: number;
  readonly tickMs: number;
}

export async function setConsumerTimeout(ms: number): Promise<ConsumerTimeout> {
  const previous = {
    timeoutMs: (await rabbitSetting('consumer_timeout')) ?? 1_800_000,
    tickMs: (await rabbitSetting('channel_tick_interval')) ?? 60_000,
  };
  await applyConsumerTimeout({ timeoutMs: ms, tickMs: 1000 });
  return previous;
}

export async function applyConsumerTimeout(settings: ConsumerTimeout): Promise<void> {
  await mustRun('rabbitmqctl', consumerTimeoutArgs(settings));
}

/** The rabbitmqctl arguments that set both values. */
export function consumerTimeoutArgs({ timeoutMs, tickMs }: ConsumerTimeout): string[] {
  const set = (name: string, value: number): string => `application:set_env(rabbit, ${name}, ${value})`;
  return ['eval', `${set('consumer_timeout', timeoutMs)}, ${set('channel_tick_interval', tickMs)}.`];
}

// ------------------------------------------------------------------ a hung database

/** SIGSTOP (a server that answers nothing) or SIGCONT the FerretDB process. */
export async function ferretdbSignal(signal: 'STOP' | 'CONT'): Promise<void> {
  const result = await run('pkill', [`-${signal}`, '-f', 'ferretdb --handler']);
  if (result.code !== 0) throw new Error(`pkill -${signal} ferretdb failed (${result.code}): ${result.output}`);
}
