import amqp, { ChannelModel } from 'amqplib';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { MONGO_DLQ, MONGO_QUEUE, POSTGRES_DLQ, POSTGRES_QUEUE } from '@dataflow/contracts';
import { declareTopology } from '@dataflow/messaging/transport/topology';
import { pause, waitUntil } from './wait';

export const RECORD_QUEUES = [POSTGRES_QUEUE, MONGO_QUEUE] as const;
export const DEAD_LETTER_QUEUES = [POSTGRES_DLQ, MONGO_DLQ] as const;
export const ALL_QUEUES = [...RECORD_QUEUES, ...DEAD_LETTER_QUEUES] as const;

/** The system tools live in the sbin directories, which a CI or npm shell may lack. */
const PATH = `${process.env.PATH ?? '/usr/bin:/bin'}:/usr/local/sbin:/usr/sbin:/sbin`;

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

const PG = ['15', 'main'] as const;

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
    { intervalMs: 500, abortable: false },
  );
}

const INFRA = join(process.cwd(), 'scripts', 'infra.sh');

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
    console.log(`chaos: ${INFRA} start ferretdb failed (${result.output.split('\n').at(-1) ?? ''}); retrying`);
  }
}

/** `scripts/infra.sh status`: exits 0 only when all three answer. */
export async function servicesStatus(): Promise<CommandResult> {
  return run(INFRA, ['status'], 60_000);
}

// ------------------------------------------------------------------ the file sink directory

/**
 * Makes the directory and every entry in it (dotfiles included: `.checkpoint.json` and any
 * temp file) immutable. As root, chmod stops nothing; the immutable flag stops writes, even
 * through descriptors already open, and the creation or renaming of files in the directory.
 */
export async function makeImmutable(dir: string): Promise<void> {
  const entries = readdirSync(dir).map((name) => join(dir, name));
  await mustRun('chattr', ['+i', dir, ...entries]);
}

/** Clears the immutable flag on the directory and everything in it (idempotent). */
export async function clearImmutable(dir: string): Promise<void> {
  await mustRun('chattr', ['-R', '-i', dir]);
}

/** Entries of `dir` that still carry the immutable flag (should be none after clearImmutable). */
export async function immutableEntries(dir: string): Promise<string[]> {
  const result = await run('lsattr', ['-a', '-d', dir]);
  const inside = await run('lsattr', ['-a', dir]);
  return `${result.output}\n${inside.output}`
    .split('\n')
    .filter((line) => /^\S*i\S*\s/.test(line))
    .map((line) => line.replace(/^\S+\s+/, ''));
}

// ------------------------------------------------------------------ RabbitMQ queues

export interface QueueCounts {
  /** Ready plus unacknowledged messages. */
  readonly messages: number;
  readonly unacknowledged: number;
}

/** `rabbitmqctl list_queues`: counts unacknowledged messages too, unlike queue.declare-ok. */
export async function listQueues(): Promise<Map<string, QueueCounts> | undefined> {
  const result = await run('rabbitmqctl', ['-q', 'list_queues', 'name', 'messages', 'messages_unacknowledged'], 30_000);
  if (result.code !== 0) return undefined;
  const counts = new Map<string, QueueCounts>();
  for (const line of result.output.split('\n')) {
    const [name, messages, unacknowledged] = line.trim().split(/\s+/);
    if (name === undefined || !/^\d+$/.test(messages ?? '') || !/^\d+$/.test(unacknowledged ?? '')) continue;
    counts.set(name, { messages: Number(messages), unacknowledged: Number(unacknowledged) });
  }
  return counts;
}

/** Each broker call of the probe gives up after this long (a broker that is stopping may never answer). */
const PROBE_TIMEOUT_MS = 5000;

/** Rejects after `ms` if `promise` has not settled; the caller drops whatever it was waiting on. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A plain amqplib connection that survives broker outages: every call reconnects if needed, gives
 * up after PROBE_TIMEOUT_MS (the connection is then dropped and opened anew next time), and
 * returns undefined instead of throwing while the broker is away.
 */
export class QueueProbe {
  private connection: ChannelModel | undefined;
  private broken = true;

  constructor(private readonly url: string) {}

  /** Runs one probe step with a time limit; a step that times out breaks the connection. */
  private async step<T>(what: string, work: (connection: ChannelModel) => Promise<T>): Promise<T> {
    try {
      return await withTimeout((async () => work(await this.open()))(), PROBE_TIMEOUT_MS, `RabbitMQ probe: ${what}`);
    } catch (error) {
      this.broken = true;
      throw error;
    }
  }

  private async open(): Promise<ChannelModel> {
    if (this.connection && !this.broken) return this.connection;
    const old = this.connection;
    this.connection = undefined;
    void old?.close().catch(() => undefined);
    const connection = await amqp.connect(this.url, { timeout: 3000 });
    connection.on('error', () => undefined);
    connection.on('close', () => {
      this.broken = true;
    });
    this.connection = connection;
    this.broken = false;
    return connection;
  }

  /** Declares the contract's topology (the same arguments as every app). */
  async declare(): Promise<void> {
    await this.step('declare the topology', async (connection) => {
      const channel = await connection.createChannel();
      try {
        await declareTopology(channel);
      } finally {
        await channel.close().catch(() => undefined);
      }
    });
  }

  /** Purges the queues; returns how many messages each held. */
  async purge(queues: readonly string[]): Promise<Map<string, number>> {
    return this.step('purge', async (connection) => {
      const channel = await connection.createChannel();
      const purged = new Map<string, number>();
      try {
        for (const queue of queues) purged.set(queue, (await channel.purgeQueue(queue)).messageCount);
      } finally {
        await channel.close().catch(() => undefined);
      }
      return purged;
    });
  }

  /** Ready messages per queue (queue.declare-ok), or undefined while the broker does not answer. */
  async depths(queues: readonly string[]): Promise<Map<string, number> | undefined> {
    try {
      return await this.step('queue depths', async (connection) => {
        const channel = await connection.createChannel();
        channel.on('error', () => undefined);
        const depths = new Map<string, number>();
        try {
          for (const queue of queues) depths.set(queue, (await channel.checkQueue(queue)).messageCount);
        } finally {
          await channel.close().catch(() => undefined);
        }
        return depths;
      });
    } catch {
      return undefined;
    }
  }

  /** Reason headers of the messages in a dead-letter queue (read, then requeued). */
  async peekReasons(queue: string, max = 20): Promise<string[]> {
    const reasons: string[] = [];
    try {
      const channel = await this.step('open a channel', (connection) => connection.createChannel());
      channel.on('error', () => undefined);
      await channel.prefetch(max);
      const seen: amqp.ConsumeMessage[] = [];
      const { consumerTag } = await channel.consume(queue, (message) => {
        if (message) seen.push(message);
      });
      await pause(1000);
      await channel.cancel(consumerTag);
      for (const message of seen) {
        const headers = message.properties.headers ?? {};
        const reason = headers['x-dataflow-reason'] as unknown;
        const death = headers['x-death'] as Array<{ reason?: string }> | undefined;
        reasons.push(typeof reason === 'string' ? reason : `x-death: ${death?.[0]?.reason ?? 'unknown'}`);
      }
      channel.nackAll(true);
      await channel.close().catch(() => undefined);
    } catch (error) {
      reasons.push(`(could not read: ${error instanceof Error ? error.message : String(error)})`);
    }
    return reasons;
  }

  async close(): Promise<void> {
    const connection = this.connection;
    this.connection = undefined;
    if (connection) await withTimeout(connection.close(), PROBE_TIMEOUT_MS, 'close the probe').catch(() => undefined);
  }
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
export async function setConsumerTimeout(ms: number): Promise<{ timeoutMs: number; tickMs: number }> {
  const previous = {
    timeoutMs: (await rabbitSetting('consumer_timeout')) ?? 1_800_000,
    tickMs: (await rabbitSetting('channel_tick_interval')) ?? 60_000,
  };
  await applyConsumerTimeout({ timeoutMs: ms, tickMs: 1000 });
  return previous;
}

export async function applyConsumerTimeout(settings: { timeoutMs: number; tickMs: number }): Promise<void> {
  await mustRun('rabbitmqctl', [
    'eval',
    `application:set_env(rabbit, consumer_timeout, ${settings.timeoutMs}), application:set_env(rabbit, channel_tick_interval, ${settings.tickMs}).`,
  ]);
}

// ------------------------------------------------------------------ a hung database

/** SIGSTOP (a server that answers nothing) or SIGCONT the FerretDB process. */
export async function ferretdbSignal(signal: 'STOP' | 'CONT'): Promise<void> {
  const result = await run('pkill', [`-${signal}`, '-f', 'ferretdb --handler']);
  if (result.code !== 0) throw new Error(`pkill -${signal} ferretdb failed (${result.code}): ${result.output}`);
}

/**
 * Last resort when the run must end now (a second Ctrl-C, the hard time limit): synchronous
 * restores of whatever is still disrupted. Errors are printed, never thrown.
 */
export function emergencyRestore(
  pending: readonly string[],
  outputDir: string,
  consumerTimeout?: { timeoutMs: number; tickMs: number },
): void {
  const attempt = (command: string, args: readonly string[]): void => {
    try {
      execFileSync(command, args, { stdio: 'ignore', timeout: 90_000, env: { ...process.env, PATH } });
    } catch (error) {
      console.error(`chaos: ${command} ${args.join(' ')} failed: ${error instanceof Error ? error.message : ''}`);
    }
  };
  if (existsSync(outputDir)) attempt('chattr', ['-R', '-i', outputDir]);
  if (pending.includes('rabbitmq')) {
    attempt('rabbitmqctl', ['start_app']);
    attempt('rabbitmqctl', ['await_startup']);
  }
  if (pending.includes('postgres')) attempt('pg_ctlcluster', [...PG, 'start']);
  if (pending.includes('ferretdb-hang')) attempt('pkill', ['-CONT', '-f', 'ferretdb --handler']);
  if (consumerTimeout) {
    attempt('rabbitmqctl', [
      'eval',
      `application:set_env(rabbit, consumer_timeout, ${consumerTimeout.timeoutMs}), application:set_env(rabbit, channel_tick_interval, ${consumerTimeout.tickMs}).`,
    ]);
  }
  if (pending.includes('ferretdb')) attempt(INFRA, ['start', 'ferretdb']);
}
