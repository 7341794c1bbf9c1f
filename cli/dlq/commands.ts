import type { Channel, ChannelModel, ConfirmChannel, GetMessage } from 'amqplib';
import { CliError, describeError, EXIT_ERROR } from '../lib/errors';
import { formatCount, out, printJson, progress } from '../lib/output';
import { openRabbit } from '../lib/connections';
import {
  deadLetterReason,
  deathCount,
  describeBody,
  isRecordQueue,
  originalQueueOf,
  plainHeaders,
  renderBody,
  replayCount,
  replayHeaders,
  resolveDeadLetterQueues,
  summariseBody,
} from './dead-letter';

export interface DlqOptions {
  readonly rabbitmqUrl: string;
  readonly json: boolean;
}

/** Messages fetched and confirmed together during a replay. */
const REPLAY_BATCH = 100;

/** Ready messages in a queue (passive declare: nothing is created or changed). */
async function depth(connection: ChannelModel, queue: string): Promise<{ messages: number; consumers: number }> {
  const channel = await connection.createChannel();
  channel.on('error', () => undefined);
  try {
    const { messageCount, consumerCount } = await channel.checkQueue(queue);
    return { messages: messageCount, consumers: consumerCount };
  } catch (error) {
    throw new CliError(`cannot read queue ${queue}: ${describeError(error)}`);
  } finally {
    await channel.close().catch(() => undefined);
  }
}

/**
 * Reads up to `count` messages without removing them: `basic.get` without acknowledgement on a
 * channel of its own, which is then closed, so the broker puts every message back. A quorum queue
 * counts that as a delivery (`x-delivery-count` grows); the DLQs have no delivery limit, so
 * nothing is ever dropped for it.
 */
async function peek<T>(
  connection: ChannelModel,
  queue: string,
  count: number,
  visit: (message: GetMessage, index: number) => T,
): Promise<T[]> {
  const channel = await connection.createChannel();
  channel.on('error', () => undefined);
  const results: T[] = [];
  try {
    for (let index = 0; index < count; index++) {
      const message = await channel.get(queue, { noAck: false });
      if (message === false) break;
      results.push(visit(message, index));
    }
  } catch (error) {
    throw new CliError(`cannot read queue ${queue}: ${describeError(error)}`);
  } finally {
    // Closing without acknowledging returns every fetched message to the queue.
    await channel.close().catch(() => undefined);
  }
  return results;
}

export interface MessageLine {
  readonly index: number;
  readonly summary: string;
  readonly records: number | undefined;
  readonly first: string | undefined;
  readonly reason: string;
  readonly originalQueue: string | undefined;
  readonly deliveries: number;
  readonly deaths: number;
  readonly replayed: number;
  readonly bytes: number;
}

function lineOf(message: GetMessage, index: number, queue: string): MessageLine {
  const headers = message.properties.headers;
  const body = summariseBody(message.content);
  const delivery: unknown = headers?.['x-delivery-count'];
  return {
    index,
    summary: describeBody(body),
    records: body.records,
    first: body.first,
    reason: deadLetterReason(headers),
    originalQueue: originalQueueOf(headers, queue),
    deliveries: typeof delivery === 'number' ? delivery : 0,
    deaths: deathCount(headers),
    replayed: replayCount(headers),
    bytes: body.bytes,
  };
}

export async function dlqList(queueName: string, limit: number, options: DlqOptions): Promise<number> {
  const queues = usageQueues(queueName, true);
  const connection = await openRabbit(options.rabbitmqUrl);
  try {
    const report: { queue: string; messages: number; consumers: number; shown: MessageLine[] }[] = [];
    for (const queue of queues) {
      const { messages, consumers } = await depth(connection, queue);
      const shown = await peek(connection, queue, Math.min(limit, messages), (m, i) => lineOf(m, i, queue));
      report.push({ queue, messages, consumers, shown });
    }
    if (options.json) {
      printJson({ queues: report });
      return 0;
    }
    for (const { queue, messages, consumers, shown } of report) {
      out(
        `${queue}: ${formatCount(messages)} message${messages === 1 ? '' : 's'}${consumers > 0 ? ` (${consumers} consumers)` : ''}`,
      );
      for (const line of shown) {
        const extra = [
          line.replayed > 0 ? `replayed ${line.replayed}x` : '',
          line.deaths > 0 ? `dead-lettered ${line.deaths}x by the broker` : '',
        ].filter((s) => s.length > 0);
        out(
          `  #${line.index}  ${line.summary}  reason: ${line.reason}  from: ${line.originalQueue ?? '?'}` +
            (extra.length > 0 ? `  (${extra.join(', ')})` : ''),
        );
      }
      if (messages > shown.length) out(`  ... ${formatCount(messages - shown.length)} more (--limit)`);
    }
    return 0;
  } finally {
    await connection.close().catch(() => undefined);
  }
}

export async function dlqShow(queueName: string, limit: number, offset: number, options: DlqOptions): Promise<number> {
  const [queue] = usageQueues(queueName, false);
  if (queue === undefined) throw new CliError('no queue');
  const connection = await openRabbit(options.rabbitmqUrl);
  try {
    const { messages } = await depth(connection, queue);
    const shown = await peek(connection, queue, Math.min(offset + limit, messages), (message, index) => {
      if (index < offset) return undefined;
      const { headers, ...properties } = message.properties as { headers?: Record<string, unknown> };
      return {
        index,
        reason: deadLetterReason(headers),
        originalQueue: originalQueueOf(headers, queue),
        properties: Object.fromEntries(Object.entries(properties).filter(([, v]) => v !== undefined)),
        headers: plainHeaders(headers),
        body: renderBody(message.content),
      };
    });
    const entries = shown.filter((entry) => entry !== undefined);
    if (options.json) {
      printJson({
        queue,
        messages,
        offset,
        entries: entries.map(({ body, ...entry }) => ({
          ...entry,
          bodyEncoding: body.encoding,
          body: body.json !== undefined ? body.json : body.text,
        })),
      });
      return 0;
    }
    out(
      `${queue}: ${formatCount(messages)} message${messages === 1 ? '' : 's'}, showing ${entries.length} from #${offset}`,
    );
    for (const entry of entries) {
      out('');
      out(`#${entry.index}  reason: ${entry.reason}  from: ${entry.originalQueue ?? '?'}`);
      out(`properties: ${JSON.stringify(entry.properties)}`);
      out(`headers: ${JSON.stringify(entry.headers, null, 2)}`);
      out(`body (${entry.body.encoding}, ${formatCount(entry.body.text.length)} characters):`);
      out(entry.body.json !== undefined ? JSON.stringify(entry.body.json, null, 2) : entry.body.text);
    }
    return 0;
  } finally {
    await connection.close().catch(() => undefined);
  }
}

interface ReplayTally {
  queue: string;
  replayed: number;
  records: number;
  skipped: number;
  byTarget: Record<string, number>;
}

/**
 * Moves dead letters back to the queue each came from: through the default exchange with the
 * queue's name as routing key (not the fanout exchange, which would hand the records to the other
 * writer too), persistent, `mandatory`, with publisher confirms. A DLQ message is acknowledged
 * only after its copy was confirmed, so a crash mid-replay leaves at worst a duplicate, which the
 * writers drop by (`source`, `seq`). At most the messages present at the start are taken, so a
 * message dead-lettered again during the replay is not replayed in a loop.
 */
export async function dlqReplay(
  queueName: string,
  limit: number | undefined,
  dryRun: boolean,
  options: DlqOptions,
): Promise<number> {
  const queues = usageQueues(queueName, true);
  const connection = await openRabbit(options.rabbitmqUrl);
  const bar = progress(!options.json);
  try {
    if (dryRun) {
      const report: { queue: string; messages: number; wouldReplay: MessageLine[] }[] = [];
      for (const queue of queues) {
        const { messages } = await depth(connection, queue);
        const lines = await peek(connection, queue, Math.min(limit ?? messages, messages), (m, i) =>
          lineOf(m, i, queue),
        );
        report.push({ queue, messages, wouldReplay: lines });
      }
      if (options.json) {
        printJson({ dryRun: true, queues: report });
        return 0;
      }
      for (const { queue, messages, wouldReplay } of report) {
        out(`${queue}: ${formatCount(messages)} messages; would replay ${formatCount(wouldReplay.length)} (dry run)`);
        for (const line of wouldReplay) {
          const target =
            line.originalQueue !== undefined && isRecordQueue(line.originalQueue) ? line.originalQueue : null;
          out(
            `  #${line.index}  ${line.summary}  -> ${target ?? `skipped (unknown queue ${line.originalQueue ?? '?'})`}`,
          );
        }
      }
      return 0;
    }

    const tallies: ReplayTally[] = [];
    for (const queue of queues) {
      const { messages } = await depth(connection, queue);
      const total = Math.min(limit ?? messages, messages);
      const tally: ReplayTally = { queue, replayed: 0, records: 0, skipped: 0, byTarget: {} };
      tallies.push(tally);
      if (total === 0) continue;
      bar.start(total, `replay ${queue.replace('dataflow.records.', '')}`);
      await replayQueue(connection, queue, total, tally, () => bar.update(tally.replayed + tally.skipped));
      bar.stop();
    }
    if (options.json) {
      printJson({ replayed: tallies });
    } else {
      for (const t of tallies) {
        const targets = Object.entries(t.byTarget)
          .map(([q, n]) => `${formatCount(n)} to ${q}`)
          .join(', ');
        out(
          `${t.queue}: replayed ${formatCount(t.replayed)} message${t.replayed === 1 ? '' : 's'} ` +
            `(${formatCount(t.records)} records)${targets ? `: ${targets}` : ''}` +
            (t.skipped > 0 ? `; ${formatCount(t.skipped)} left in the DLQ (no known original queue)` : ''),
        );
      }
    }
    return 0;
  } finally {
    bar.stop();
    await connection.close().catch(() => undefined);
  }
}

async function replayQueue(
  connection: ChannelModel,
  queue: string,
  total: number,
  tally: ReplayTally,
  onProgress: () => void,
): Promise<void> {
  const channel: ConfirmChannel = await connection.createConfirmChannel();
  let channelError: unknown;
  channel.on('error', (error: unknown) => (channelError = error));
  let returned = 0;
  channel.on('return', () => returned++);
  try {
    // Fails (404) before anything is taken when the DLQ does not exist, and before anything is
    // published when a message's record queue (a sink's queue or partition) does not.
    await channel.checkQueue(queue);
    const checked = new Set<string>();
    let taken = 0;
    while (taken < total) {
      const batch: GetMessage[] = [];
      while (batch.length < Math.min(REPLAY_BATCH, total - taken)) {
        const message = await channel.get(queue, { noAck: false });
        if (message === false) break;
        batch.push(message);
      }
      if (batch.length === 0) break;
      taken += batch.length;

      const published: { message: GetMessage; target: string; records: number }[] = [];
      for (const message of batch) {
        const headers = message.properties.headers;
        const target = originalQueueOf(headers, queue);
        if (target === undefined || !isRecordQueue(target)) {
          // Held unacknowledged until the channel closes, then back in the DLQ untouched.
          tally.skipped++;
          continue;
        }
        if (!checked.has(target)) {
          await channel.checkQueue(target);
          checked.add(target);
        }
        const p = message.properties;
        channel.publish('', target, message.content, {
          persistent: true,
          mandatory: true,
          contentType: (p.contentType as string | undefined) ?? 'application/json',
          ...(p.contentEncoding ? { contentEncoding: p.contentEncoding as string } : {}),
          ...(p.messageId ? { messageId: p.messageId as string } : {}),
          ...(p.correlationId ? { correlationId: p.correlationId as string } : {}),
          ...(p.type ? { type: p.type as string } : {}),
          ...(p.appId ? { appId: p.appId as string } : {}),
          ...(p.timestamp ? { timestamp: p.timestamp as number } : {}),
          headers: replayHeaders(headers, new Date()),
        });
        published.push({ message, target, records: summariseBody(message.content).records ?? 0 });
      }
      try {
        await channel.waitForConfirms();
      } catch (error) {
        throw new CliError(
          `the broker refused a replayed message (${describeError(error)}); nothing of the last batch was ` +
            `removed from ${queue}`,
        );
      }
      if (returned > 0) {
        throw new CliError(
          `a replayed message could not be routed (queue missing?); nothing of the last batch was removed from ${queue}`,
        );
      }
      for (const { message, target, records } of published) {
        channel.ack(message);
        tally.replayed++;
        tally.records += records;
        tally.byTarget[target] = (tally.byTarget[target] ?? 0) + 1;
      }
      onProgress();
    }
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError(`replay of ${queue} failed: ${describeError(channelError ?? error)}`, EXIT_ERROR);
  } finally {
    await closeQuietly(channel);
  }
}

async function closeQuietly(channel: Channel): Promise<void> {
  await channel.close().catch(() => undefined);
}

export async function dlqPurge(queueName: string, yes: boolean, options: DlqOptions): Promise<number> {
  const queues = usageQueues(queueName, true);
  const connection = await openRabbit(options.rabbitmqUrl);
  try {
    const counts = [];
    for (const queue of queues) counts.push({ queue, ...(await depth(connection, queue)) });
    if (!yes) {
      const lines = counts.map(
        (c) => `${c.queue} holds ${formatCount(c.messages)} message${c.messages === 1 ? '' : 's'}`,
      );
      if (options.json)
        printJson({ purged: false, queues: counts.map((c) => ({ queue: c.queue, messages: c.messages })) });
      else for (const line of lines) out(line);
      throw new CliError('refusing to purge without --yes (nothing was deleted)');
    }
    const purged: { queue: string; purged: number }[] = [];
    for (const queue of queues) {
      const channel = await connection.createChannel();
      channel.on('error', () => undefined);
      try {
        const { messageCount } = await channel.purgeQueue(queue);
        purged.push({ queue, purged: messageCount });
      } catch (error) {
        throw new CliError(`cannot purge ${queue}: ${describeError(error)}`);
      } finally {
        await closeQuietly(channel);
      }
    }
    if (options.json) printJson({ purged: true, queues: purged });
    else for (const p of purged) out(`${p.queue}: purged ${formatCount(p.purged)} message${p.purged === 1 ? '' : 's'}`);
    return 0;
  } finally {
    await connection.close().catch(() => undefined);
  }
}

function usageQueues(name: string, allowAll: boolean): string[] {
  try {
    return resolveDeadLetterQueues(name, allowAll);
  } catch (error) {
    throw new CliError(describeError(error));
  }
}
