import amqp, { ChannelModel } from 'amqplib';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { MONGO_DLQ, MONGO_QUEUE, POSTGRES_DLQ, POSTGRES_QUEUE } from '@dataflow/contracts';
import { declareTopology } from '@dataflow/messaging/transport/topology';
import { ConsumerTimeout, consumerTimeoutArgs, INFRA, mustRun, PATH, PG, run } from '../kit/services';
import { errorText } from '../kit/tool';
import { sleep } from '../kit/wait';

export const RECORD_QUEUES = [POSTGRES_QUEUE, MONGO_QUEUE] as const;
export const DEAD_LETTER_QUEUES = [POSTGRES_DLQ, MONGO_DLQ] as const;
export const ALL_QUEUES = [...RECORD_QUEUES, ...DEAD_LETTER_QUEUES] as const;

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

  /** One probe step on a channel of its own, closed afterwards. */
  private onChannel<T>(what: string, work: (channel: amqp.Channel) => Promise<T>): Promise<T> {
    return this.step(what, async (connection) => {
      const channel = await connection.createChannel();
      channel.on('error', () => undefined);
      try {
        return await work(channel);
      } finally {
        await channel.close().catch(() => undefined);
      }
    });
  }

  /** Declares the contract's topology (the same arguments as every app). */
  async declare(): Promise<void> {
    await this.onChannel('declare the topology', (channel) => declareTopology(channel, 1));
  }

  /** Purges the queues; returns how many messages each held. */
  async purge(queues: readonly string[]): Promise<Map<string, number>> {
    return this.onChannel('purge', async (channel) => {
      const purged = new Map<string, number>();
      for (const queue of queues) purged.set(queue, (await channel.purgeQueue(queue)).messageCount);
      return purged;
    });
  }

  /** Ready messages per queue (queue.declare-ok), or undefined while the broker does not answer. */
  async depths(queues: readonly string[]): Promise<Map<string, number> | undefined> {
    return this.onChannel('queue depths', async (channel) => {
      const depths = new Map<string, number>();
      for (const queue of queues) depths.set(queue, (await channel.checkQueue(queue)).messageCount);
      return depths;
    }).catch(() => undefined);
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
      await sleep(1000);
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
      reasons.push(`(could not read: ${errorText(error)})`);
    }
    return reasons;
  }

  async close(): Promise<void> {
    const connection = this.connection;
    this.connection = undefined;
    if (connection) await withTimeout(connection.close(), PROBE_TIMEOUT_MS, 'close the probe').catch(() => undefined);
  }
}

/**
 * Last resort when the run must end now (a second Ctrl-C, the hard time limit): synchronous
 * restores of whatever is still disrupted. Errors are printed, never thrown.
 */
export function emergencyRestore(
  pending: readonly string[],
  outputDir: string,
  consumerTimeout?: ConsumerTimeout,
): void {
  const attempt = (command: string, args: readonly string[]): void => {
    try {
      execFileSync(command, args, { stdio: 'ignore', timeout: 90_000, env: { ...process.env, PATH } });
    } catch (error) {
      console.error(`chaos: ${command} ${args.join(' ')} failed: ${errorText(error)}`);
    }
  };
  if (existsSync(outputDir)) attempt('chattr', ['-R', '-i', outputDir]);
  if (pending.includes('rabbitmq')) {
    attempt('rabbitmqctl', ['start_app']);
    attempt('rabbitmqctl', ['await_startup']);
  }
  if (pending.includes('postgres')) attempt('pg_ctlcluster', [...PG, 'start']);
  if (pending.includes('ferretdb-hang')) attempt('pkill', ['-CONT', '-f', 'ferretdb --handler']);
  if (consumerTimeout) attempt('rabbitmqctl', consumerTimeoutArgs(consumerTimeout));
  if (pending.includes('ferretdb')) attempt(INFRA, ['start', 'ferretdb']);
}
