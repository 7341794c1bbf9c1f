import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppProcess, LOG_DIR, sleep, waitFor } from '../support/app-process';
import { RabbitProbe } from '../support/rabbit';
import { flatten, Stores } from '../support/stores';

const COLLECTOR_PORT = 3499;

interface CollectedSpan {
  readonly service: string;
  readonly name: string;
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string;
  readonly links: readonly string[];
}

/** OTLP/HTTP JSON ids are hex; accept base64 too. */
function hexId(value: unknown): string {
  if (typeof value !== 'string' || value === '') return '';
  return /^[0-9a-f]+$/i.test(value) ? value.toLowerCase() : Buffer.from(value, 'base64').toString('hex');
}

/** A minimal OTLP/HTTP trace receiver standing in for a collector. */
class Collector {
  readonly spans: CollectedSpan[] = [];
  /** Spans per export request: the batch span processor's OTEL_BSP_MAX_EXPORT_BATCH_SIZE bounds it. */
  readonly batchSizes: number[] = [];
  private server: Server | undefined;

  async start(): Promise<void> {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        this.collect(Buffer.concat(chunks).toString('utf8'));
        response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(COLLECTOR_PORT, '127.0.0.1', resolve));
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }

  private collect(body: string): void {
    type Attribute = { key: string; value: { stringValue?: string } };
    type Payload = {
      resourceSpans?: Array<{
        resource?: { attributes?: Attribute[] };
        scopeSpans?: Array<{
          spans?: Array<{
            name: string;
            traceId: string;
            spanId: string;
            parentSpanId?: string;
            links?: Array<{ traceId: string }>;
          }>;
        }>;
      }>;
    };
    const payload = JSON.parse(body) as Payload;
    let size = 0;
    for (const resource of payload.resourceSpans ?? []) {
      const service =
        resource.resource?.attributes?.find((a) => a.key === 'service.name')?.value.stringValue ?? 'unknown';
      for (const scope of resource.scopeSpans ?? []) {
        for (const span of scope.spans ?? []) {
          size++;
          this.spans.push({
            service,
            name: span.name,
            traceId: hexId(span.traceId),
            spanId: hexId(span.spanId),
            parentSpanId: hexId(span.parentSpanId),
            links: (span.links ?? []).map((link) => hexId(link.traceId)),
          });
        }
      }
    }
    this.batchSizes.push(size);
  }
}

interface LogLine {
  readonly msg?: string;
  readonly trace_id?: string;
  readonly source?: string;
  readonly firstSeq?: number;
  readonly lastSeq?: number;
  readonly frameTraceIds?: string[];
}

function logLines(app: AppProcess): LogLine[] {
  return readFileSync(join(LOG_DIR, `${app.name}-${app.port}.log`), 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as LogLine);
}

function holding(lines: LogLine[], msg: string, source: string, seq: number): LogLine[] {
  return lines.filter(
    (l) => l.msg === msg && l.source === source && (l.firstSeq ?? Infinity) <= seq && seq <= (l.lastSeq ?? -Infinity),
  );
}

/**
 * One record's path as one trace: the generator's frame span, carried as W3C `traceparent` in the
 * frame envelope to the filter, and in the AMQP headers to both writers; the same trace id is the
 * correlation id of each app's log lines about that record.
 */
/**
 * The standard variables the SDK 3.x no longer reads by itself, set as an operator would: a ratio
 * sampler (ratio 1: every root span is sampled) and small export batches, flushed every 500 ms.
 */
const EXPORT_BATCH = 4;
const OTEL = {
  OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${COLLECTOR_PORT}`,
  OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
  OTEL_TRACES_SAMPLER_ARG: '1',
  OTEL_BSP_SCHEDULE_DELAY: '500',
  OTEL_BSP_MAX_EXPORT_BATCH_SIZE: String(EXPORT_BATCH),
  OTEL_BSP_MAX_QUEUE_SIZE: '4096',
  LOG_LEVEL: 'debug',
};

describe('distributed tracing across the four apps', () => {
  const apps: AppProcess[] = [];
  const collector = new Collector();
  let stores: Stores;
  let rabbit: RabbitProbe;

  beforeAll(async () => {
    await collector.start();
    rabbit = await RabbitProbe.connect();
    await rabbit.purgeAll();
    stores = await Stores.connect();
  });

  afterAll(async () => {
    await Promise.all(apps.splice(0).map((app) => app.stop()));
    await collector.stop();
    await rabbit.close();
    await stores.close();
  });

  it('follows a record from the generator through the filter to both writers by one trace id', async () => {
    const source = `tracing-${process.pid}`;
    const total = 60;
    await stores.deleteSource(source);
    for (const [name, port, env] of [
      ['db-writer', 3493, {}],
      ['mongo-writer', 3494, {}],
      ['filter', 3492, { FILTER_OUTPUT_DIR: mkdtempSync(join(tmpdir(), 'dataflow-trace-')), FILTER_THRESHOLD: '-1' }],
      [
        'generator',
        3491,
        {
          GENERATOR_ID: source,
          GENERATOR_RATE: '30',
          GENERATOR_LIMIT: String(total),
          GENERATOR_STATE_DIR: mkdtempSync(join(tmpdir(), 'dataflow-trace-gen-')),
          FILTER_WS_URL: 'ws://127.0.0.1:3492/ingest',
        },
      ],
    ] as const) {
      apps.push(await new AppProcess(name, port, { ...OTEL, ...env }).start());
    }
    const [dbWriter, mongoWriter, filter, generator] = apps as [AppProcess, AppProcess, AppProcess, AppProcess];
    await waitFor(async () => (await stores.postgresRows(source)).length === total, 60_000, 'PostgreSQL rows');
    await waitFor(async () => flatten(await stores.mongoDocuments(source)).length === total, 60_000, 'MongoDB records');
    await sleep(1500); // the last spans and log lines are flushed

    for (const seq of [1, 30, total]) {
      const [frame] = holding(logLines(generator), 'frame queued for the filter', source, seq);
      const frameTrace = frame?.trace_id;
      expect(frameTrace).toMatch(/^[0-9a-f]{32}$/);
      // The filter's hand-off runs in the trace of the first frame it carries and names the others.
      const handOffs = holding(logLines(filter), 'records handed on', source, seq);
      const handOff = handOffs.find((l) => l.trace_id === frameTrace || l.frameTraceIds?.includes(frameTrace ?? ''));
      expect(handOff).toBeDefined();
      const trace = handOff?.trace_id as string;
      for (const writer of [dbWriter, mongoWriter]) {
        const stored = holding(logLines(writer), 'records stored and acknowledged', source, seq);
        expect(stored.map((l) => l.trace_id)).toContain(trace);
      }
      // The same trace in the exported spans: every app took part, each span under its parent.
      await waitFor(
        () =>
          new Set(collector.spans.filter((s) => s.traceId === trace).map((s) => s.service)).size === 4 ||
          frameTrace !== trace,
        15_000,
        `spans of trace ${trace} from all four apps`,
      );
      const spans = collector.spans.filter((s) => s.traceId === trace);
      const services = new Set(spans.map((s) => s.service));
      expect(services).toEqual(
        new Set(['filter', 'db-writer', 'mongo-writer', ...(frameTrace === trace ? ['generator'] : [])]),
      );
      const byId = new Map(spans.map((s) => [s.spanId, s]));
      const receives = spans.filter((s) => s.name === 'records process');
      expect(receives.map((s) => s.service).sort()).toEqual(expect.arrayContaining(['db-writer', 'mongo-writer']));
      for (const receive of receives) expect(byId.get(receive.parentSpanId)?.name).toBe('records hand-off');
      if (frameTrace !== trace) {
        // Coalesced: the frame's own trace reaches the filter, and the hand-off links to it.
        expect(collector.spans.some((s) => s.traceId === frameTrace && s.service === 'filter')).toBe(true);
        expect(spans.find((s) => s.name === 'records hand-off')?.links).toContain(frameTrace);
      }
    }
    // Every frame starts a trace of its own: a send span never hangs under an earlier frame's.
    const sends = collector.spans.filter((s) => s.service === 'generator' && s.name === 'records send');
    expect(sends.length).toBeGreaterThan(0);
    for (const send of sends) expect(send.parentSpanId).toBe('');
    expect(new Set(sends.map((s) => s.traceId)).size).toBe(sends.length);
    // OTEL_BSP_MAX_EXPORT_BATCH_SIZE reached the batch span processors: no export is larger.
    expect(Math.max(...collector.batchSizes)).toBe(EXPORT_BATCH);
  });

  it('honours OTEL_TRACES_SAMPLER across processes: an unsampled frame is in the logs, exported by none', async () => {
    // Reuses the filter and writers of the test above (parent-based samplers); only this
    // generator samples nothing.
    const source = `tracing-unsampled-${process.pid}`;
    const total = 10;
    await stores.deleteSource(source);
    const generator = await new AppProcess('generator', 3495, {
      ...OTEL,
      OTEL_TRACES_SAMPLER: 'always_off',
      GENERATOR_ID: source,
      GENERATOR_RATE: '20',
      GENERATOR_LIMIT: String(total),
      GENERATOR_STATE_DIR: mkdtempSync(join(tmpdir(), 'dataflow-trace-gen-')),
      FILTER_WS_URL: 'ws://127.0.0.1:3492/ingest',
    }).start();
    apps.push(generator);
    const [dbWriter, mongoWriter] = apps as [AppProcess, AppProcess];
    await waitFor(async () => (await stores.postgresRows(source)).length === total, 60_000, 'PostgreSQL rows');
    await waitFor(async () => flatten(await stores.mongoDocuments(source)).length === total, 60_000, 'MongoDB records');
    await sleep(1500); // past the 500 ms export delay: spans, had there been any, were sent

    const frameTraces = new Set(
      logLines(generator)
        .filter((l) => l.msg === 'frame queued for the filter' && l.source === source)
        .map((l) => l.trace_id),
    );
    expect(frameTraces.size).toBeGreaterThan(0);
    for (const traceId of frameTraces) expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    // The unsampled context still travels: the writers log under the frames' trace ids.
    for (const writer of [dbWriter, mongoWriter]) {
      const traces = logLines(writer)
        .filter((l) => l.msg === 'records stored and acknowledged' && l.source === source)
        .map((l) => l.trace_id);
      expect(traces.length).toBeGreaterThan(0);
      for (const traceId of traces) expect(frameTraces).toContain(traceId);
    }
    expect(collector.spans.filter((s) => frameTraces.has(s.traceId))).toEqual([]);
  });
});
