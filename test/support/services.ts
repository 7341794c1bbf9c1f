import { execFileSync } from 'node:child_process';

/** Stops or starts the local FerretDB (the one scripts/infra.sh runs). */
export function ferretdb(action: 'stop' | 'start'): void {
  execFileSync('scripts/infra.sh', [action, 'ferretdb'], { stdio: 'ignore', timeout: 300_000 });
}

/** Stops or starts the local PostgreSQL cluster of the db-writer. */
export function postgres(action: 'stop' | 'start'): void {
  const args = action === 'stop' ? ['15', 'main', 'stop', '-m', 'fast'] : ['15', 'main', 'start'];
  execFileSync('pg_ctlcluster', args, { stdio: 'ignore', timeout: 120_000 });
}

/** Sends a signal to every process whose command line matches `pattern` (pkill -f). */
export function signalProcesses(pattern: string, signal: 'STOP' | 'CONT'): void {
  execFileSync('pkill', [`-${signal}`, '-f', pattern], { stdio: 'ignore' });
}

function rabbitEval(expression: string): string {
  return execFileSync('rabbitmqctl', ['eval', expression], { encoding: 'utf8' }).trim();
}

/** The broker's value of a `rabbit` application setting (an integer), or undefined. */
function rabbitSetting(name: string): number | undefined {
  const match = /^\{ok,(\d+)\}$/.exec(rabbitEval(`application:get_env(rabbit, ${name}).`));
  return match ? Number(match[1]) : undefined;
}

/**
 * Sets RabbitMQ's delivery acknowledgement timeout for channels opened from now on (channels keep
 * the value they were opened with) and has it checked every second instead of every minute;
 * returns a function that puts both settings back. (Never unset `channel_tick_interval`: a
 * channel cannot open without it.)
 */
export function shortConsumerTimeout(ms: number): () => void {
  const timeout = rabbitSetting('consumer_timeout') ?? 1_800_000;
  const tick = rabbitSetting('channel_tick_interval') ?? 60_000;
  rabbitEval(
    `application:set_env(rabbit, consumer_timeout, ${ms}), application:set_env(rabbit, channel_tick_interval, 1000).`,
  );
  return () => {
    rabbitEval(
      `application:set_env(rabbit, consumer_timeout, ${timeout}), application:set_env(rabbit, channel_tick_interval, ${tick}).`,
    );
  };
}

function queueColumn(queue: string, column: string): number {
  const out = execFileSync('rabbitmqctl', ['-q', 'list_queues', 'name', column], { encoding: 'utf8' });
  const line = out.split('\n').find((l) => l.startsWith(`${queue}\t`));
  return Number(line?.split('\t')[1] ?? 'NaN');
}

/** Messages delivered to consumers and not yet acknowledged (rabbitmqctl; NaN if no such queue). */
export function unacknowledged(queue: string): number {
  return queueColumn(queue, 'messages_unacknowledged');
}

/** Consumers subscribed to `queue` (NaN if no such queue). */
export function consumers(queue: string): number {
  return queueColumn(queue, 'consumers');
}
