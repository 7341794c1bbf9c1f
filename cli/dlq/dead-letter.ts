import {
  DEAD_LETTER_QUEUE_HEADER,
  DEAD_LETTER_REASON_HEADER,
  MONGO_DLQ,
  POSTGRES_DLQ,
  isRecordQueue,
  RECORD_QUEUES,
  REPLAYED_HEADER,
} from '@dataflow/contracts';

export { REPLAYED_HEADER };
/** Header a replayed message carries: when it was last replayed (ISO 8601). */
export const REPLAYED_AT_HEADER = 'x-dataflow-replayed-at';

/** Headers that describe a past dead-lettering and must not travel with a replayed message. */
const DEAD_LETTER_HEADERS = new Set([
  'x-death',
  'x-first-death-queue',
  'x-first-death-reason',
  'x-first-death-exchange',
  'x-last-death-queue',
  'x-last-death-reason',
  'x-last-death-exchange',
  'x-delivery-count',
  DEAD_LETTER_REASON_HEADER,
  DEAD_LETTER_QUEUE_HEADER,
]);

export type Headers = Readonly<Record<string, unknown>>;

/** `postgres`, `mongo`, or a DLQ's full name, to the DLQ names it means; `all` means both. */
export function resolveDeadLetterQueues(name: string, allowAll: boolean): string[] {
  switch (name) {
    case 'postgres':
    case POSTGRES_DLQ:
      return [POSTGRES_DLQ];
    case 'mongo':
    case MONGO_DLQ:
      return [MONGO_DLQ];
    case 'all':
      if (allowAll) return [POSTGRES_DLQ, MONGO_DLQ];
      break;
    default:
      break;
  }
  const choices = allowAll ? 'postgres, mongo or all' : 'postgres or mongo';
  throw new Error(`unknown dead-letter queue "${name}" (use ${choices}, or ${POSTGRES_DLQ} / ${MONGO_DLQ})`);
}

/** The record queue whose messages a DLQ receives. */
export function sourceQueueOf(deadLetterQueue: string): string | undefined {
  return RECORD_QUEUES.find((q) => q.deadLetterQueue === deadLetterQueue)?.queue;
}

export { isRecordQueue };

interface DeathEntry {
  readonly reason?: unknown;
  readonly queue?: unknown;
  readonly count?: unknown;
}

function deaths(headers: Headers | undefined): DeathEntry[] {
  const value = headers?.['x-death'];
  if (!Array.isArray(value)) return [];
  return value.filter((entry): entry is DeathEntry => entry !== null && typeof entry === 'object');
}

function text(value: unknown): string | undefined {
  if (typeof value === 'string' && value.length > 0) return value;
  if (Buffer.isBuffer(value) && value.length > 0) return value.toString('utf8');
  return undefined;
}

/**
 * Why the message was dead-lettered: the writer's reason header, else the broker's own reason
 * from `x-death` (most recent first), e.g. `delivery_limit` or `rejected`.
 */
export function deadLetterReason(headers: Headers | undefined): string {
  const writer = text(headers?.[DEAD_LETTER_REASON_HEADER]);
  if (writer !== undefined) return writer;
  const death = deaths(headers)[0];
  const broker =
    text(death?.reason) ?? text(headers?.['x-last-death-reason']) ?? text(headers?.['x-first-death-reason']);
  return broker ?? 'unknown';
}

/**
 * The queue the message was dead-lettered from: the writer's header, else the broker's `x-death`
 * entry, else `x-first-death-queue`, else the record queue that feeds this DLQ.
 */
export function originalQueueOf(headers: Headers | undefined, deadLetterQueue: string): string | undefined {
  return (
    text(headers?.[DEAD_LETTER_QUEUE_HEADER]) ??
    text(deaths(headers)[0]?.queue) ??
    text(headers?.['x-first-death-queue']) ??
    sourceQueueOf(deadLetterQueue)
  );
}

/** Broker dead-letterings recorded in `x-death` (the sum of its counts). */
export function deathCount(headers: Headers | undefined): number {
  return deaths(headers).reduce((sum, d) => sum + (typeof d.count === 'number' ? d.count : 1), 0);
}

export function replayCount(headers: Headers | undefined): number {
  const value = headers?.[REPLAYED_HEADER];
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

/** The headers a replayed message is published with: dead-letter history dropped, replay noted. */
export function replayHeaders(headers: Headers | undefined, now: Date): Record<string, unknown> {
  const kept: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(headers ?? {})) {
    if (!DEAD_LETTER_HEADERS.has(key)) kept[key] = value;
  }
  kept[REPLAYED_HEADER] = replayCount(headers) + 1;
  kept[REPLAYED_AT_HEADER] = now.toISOString();
  return kept;
}

export interface BodySummary {
  /** `records`: a Nest RMQ packet whose data looks like records; otherwise what it is. */
  readonly kind: 'records' | 'not-json' | 'not-a-packet';
  readonly pattern?: string;
  /** Items in `data` (an array's length, or 1 for a single value). */
  readonly records?: number;
  /** `source:seq` of the first item, when it has both. */
  readonly first?: string;
  /** `source:seq` of the last item, when it has both. */
  readonly last?: string;
  readonly bytes: number;
}

function identity(item: unknown): string | undefined {
  if (item === null || typeof item !== 'object') return undefined;
  const { source, seq } = item as { source?: unknown; seq?: unknown };
  if (source === undefined && seq === undefined) return undefined;
  return `${String(source)}:${String(seq)}`;
}

/** What a message body holds; never throws, whatever the bytes. */
export function summariseBody(content: Buffer): BodySummary {
  const bytes = content.length;
  let packet: unknown;
  try {
    packet = JSON.parse(content.toString('utf8'));
  } catch {
    return { kind: 'not-json', bytes };
  }
  if (packet === null || typeof packet !== 'object' || Array.isArray(packet)) return { kind: 'not-a-packet', bytes };
  const { pattern, data } = packet as { pattern?: unknown; data?: unknown };
  if (typeof pattern !== 'string' || data === undefined) return { kind: 'not-a-packet', bytes };
  const items: unknown[] = Array.isArray(data) ? data : [data];
  const first = identity(items[0]);
  const last = identity(items[items.length - 1]);
  return {
    kind: 'records',
    pattern,
    records: items.length,
    ...(first !== undefined ? { first } : {}),
    ...(last !== undefined ? { last } : {}),
    bytes,
  };
}

/** One line for `dlq list`: records, first and last record, reason, original queue. */
export function describeBody(summary: BodySummary): string {
  switch (summary.kind) {
    case 'not-json':
      return `not JSON (${summary.bytes} bytes)`;
    case 'not-a-packet':
      return `JSON but not a record packet (${summary.bytes} bytes)`;
    case 'records': {
      const count = `${summary.records ?? 0} record${summary.records === 1 ? '' : 's'}`;
      const range =
        summary.first === undefined
          ? ''
          : summary.last !== undefined && summary.last !== summary.first
            ? ` ${summary.first}..${summary.last.slice(summary.last.lastIndexOf(':') + 1)}`
            : ` ${summary.first}`;
      const pattern = summary.pattern === 'records.high' ? '' : ` (pattern ${summary.pattern ?? '?'})`;
      return `${count}${range}${pattern}`;
    }
  }
}

/** A body as text when it is UTF-8, else base64; JSON bodies are pretty-printed. */
export function renderBody(content: Buffer): { encoding: 'utf8' | 'base64'; text: string; json?: unknown } {
  const decoded = content.toString('utf8');
  if (Buffer.from(decoded, 'utf8').equals(content)) {
    try {
      return { encoding: 'utf8', text: decoded, json: JSON.parse(decoded) as unknown };
    } catch {
      return { encoding: 'utf8', text: decoded };
    }
  }
  return { encoding: 'base64', text: content.toString('base64') };
}

/** Header values made printable: byte arrays as text, AMQP timestamps as ISO time. */
export function plainHeaders(headers: Headers | undefined): Record<string, unknown> {
  const convert = (value: unknown): unknown => {
    if (Buffer.isBuffer(value)) return value.toString('utf8');
    if (Array.isArray(value)) return value.map(convert);
    if (value !== null && typeof value === 'object') {
      const typed = value as { '!'?: unknown; value?: unknown };
      if (typed['!'] === 'timestamp' && typeof typed.value === 'number') {
        return new Date(typed.value * 1000).toISOString();
      }
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, convert(v)]));
    }
    return value;
  };
  return Object.fromEntries(Object.entries(headers ?? {}).map(([k, v]) => [k, convert(v)]));
}
