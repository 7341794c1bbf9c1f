import type { RouteName } from '@dataflow/contracts';
import { CliError, describeError, EXIT_OK } from '../lib/errors';
import { note, out } from '../lib/output';
import { SseParser } from './sse';
import { formatTailRecord, parseDropped, parseTailRecord } from './tail-event';

export interface TailOptions {
  readonly filterUrl: string;
  readonly token: string | undefined;
  readonly routes: ReadonlySet<RouteName> | undefined;
  readonly json: boolean;
  /** Exit 0 after this many records were printed. */
  readonly count: number | undefined;
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });

/**
 * Follows the filter's `GET /tail` event stream and prints each record with its route. The stream
 * is reopened with exponential backoff whenever it ends or cannot be reached; Ctrl-C ends with 0.
 * A refused token or a filter without the endpoint is an error (exit 2): retrying cannot help.
 */
export async function tail(options: TailOptions): Promise<number> {
  const controller = new AbortController();
  const stop = (): void => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const minBackoff = options.minBackoffMs ?? 250;
  const maxBackoff = options.maxBackoffMs ?? 10_000;
  let backoff = minBackoff;
  let printed = 0;
  let lastId: string | undefined;
  const url = new URL('/tail', options.filterUrl).toString();
  try {
    while (!controller.signal.aborted) {
      let received = false;
      try {
        const headers: Record<string, string> = { Accept: 'text/event-stream' };
        if (options.token !== undefined) headers.Authorization = `Bearer ${options.token}`;
        if (lastId !== undefined) headers['Last-Event-ID'] = lastId;
        const response = await fetch(url, { headers, signal: controller.signal });
        if (response.status === 401 || response.status === 403) {
          await response.body?.cancel().catch(() => undefined);
          throw new CliError(
            `the filter refused access to ${url} (HTTP ${response.status}): ` +
              (options.token === undefined ? 'it needs a token (--token or FILTER_ADMIN_TOKEN)' : 'wrong token'),
          );
        }
        if (response.status === 404) {
          await response.body?.cancel().catch(() => undefined);
          throw new CliError(`the filter at ${options.filterUrl} has no /tail endpoint (HTTP 404)`);
        }
        if (response.status !== 200 || response.body === null) {
          await response.body?.cancel().catch(() => undefined);
          throw new Error(`HTTP ${response.status}`);
        }
        note(`tail: connected to ${url}`);
        const parser = new SseParser();
        const decoder = new TextDecoder();
        for await (const chunk of response.body) {
          for (const event of parser.push(decoder.decode(chunk as Uint8Array, { stream: true }))) {
            received = true;
            if (event.id !== undefined) lastId = event.id;
            if (event.event === 'dropped') {
              const count = parseDropped(event.data);
              note(`tail: the filter skipped ${count ?? 'some'} records for this client (too slow)`);
              continue;
            }
            if (event.event !== 'record') continue;
            const record = parseTailRecord(event.data);
            if (record === undefined) {
              note(`tail: ignored a record event that is not a routed record: ${event.data.slice(0, 200)}`);
              continue;
            }
            if (options.routes !== undefined && !options.routes.has(record.route)) continue;
            out(options.json ? JSON.stringify(record) : formatTailRecord(record));
            printed++;
            if (options.count !== undefined && printed >= options.count) {
              controller.abort();
              break;
            }
          }
          if (controller.signal.aborted) break;
        }
        parser.end();
        if (controller.signal.aborted) break;
        note('tail: the stream ended; reconnecting');
      } catch (error) {
        if (error instanceof CliError) throw error;
        if (controller.signal.aborted) break;
        note(`tail: cannot follow ${url}: ${describeError(error)}; retrying in ${(backoff / 1000).toFixed(1)} s`);
      }
      if (received) backoff = minBackoff;
      await sleep(backoff * (0.8 + Math.random() * 0.4), controller.signal);
      backoff = Math.min(maxBackoff, backoff * 2);
    }
    return EXIT_OK;
  } finally {
    process.removeListener('SIGINT', stop);
    process.removeListener('SIGTERM', stop);
  }
}
