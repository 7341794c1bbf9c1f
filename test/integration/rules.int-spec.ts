import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import WebSocket from 'ws';
import { POSTGRES_QUEUE, type DataRecord } from '@dataflow/contracts';
import { AppProcess, sleep, waitFor } from '../support/app-process';
import { prng } from '../support/prng';
import { RabbitProbe, recordsOf } from '../support/rabbit';
import { makeRecord, readFileSink, seqsOf } from '../support/records';
import { entryPoint } from '../../scripts/kit/app-process';

const TOKEN = 'rules-admin-token';
const AUTH = { authorization: `Bearer ${TOKEN}` };

function threshold(value: number, name = `threshold-${value}`): unknown {
  return {
    name,
    rules: [{ name: 'above', when: { field: 'randomValue', op: 'gt', value }, route: 'queue' }],
    default: 'file',
  };
}

/** Sends frames and waits for each frame's acknowledgement. */
class Sender {
  private readonly acked = new Set<number>();

  private constructor(private readonly socket: WebSocket) {
    socket.on('message', (data: Buffer) => {
      const frame = JSON.parse(data.toString('utf8')) as { event: string; data: { seqs?: number[] } };
      if (frame.event === 'ack') for (const seq of frame.data.seqs ?? []) this.acked.add(seq);
    });
  }

  static open(port: number): Promise<Sender> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(`ws://127.0.0.1:${port}/ingest`);
      socket.once('open', () => resolve(new Sender(socket)));
      socket.once('error', reject);
    });
  }

  async sendFrame(records: readonly DataRecord[]): Promise<void> {
    this.socket.send(JSON.stringify({ event: 'records', data: records }));
    await waitFor(() => records.every((r) => this.acked.has(r.seq)), 20_000, 'frame acknowledged');
  }

  close(): void {
    this.socket.close();
  }
}

async function rules(app: AppProcess, method: 'GET' | 'PUT', body?: unknown, headers: Record<string, string> = AUTH) {
  const response = await fetch(`${app.baseUrl}/rules`, {
    method,
    headers: { ...headers, 'content-type': 'application/json' },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('routing rules (FILTER_RULES_FILE, GET/PUT /rules) and GET /tail', () => {
  let rabbit: RabbitProbe;
  const apps: AppProcess[] = [];

  beforeAll(async () => {
    rabbit = await RabbitProbe.connect();
    await rabbit.purgeAll();
  });

  afterAll(async () => {
    await Promise.all(apps.splice(0).map((app) => app.stop()));
    await rabbit.purgeAll();
    await rabbit.close();
  });

  it('a PUT /rules routes from the next frame on; a malformed rule set is refused and changes nothing', async () => {
    const outputDir = mkdtempSync(join(tmpdir(), 'dataflow-rules-'));
    const filter = await new AppProcess('filter', 3412, {
      FILTER_OUTPUT_DIR: outputDir,
      FILTER_ADMIN_TOKEN: TOKEN,
    }).start();
    apps.push(filter);
    const source = `rules-put-${process.pid}`;
    const random = prng(20261125);
    const frame = (from: number) =>
      Array.from({ length: 200 }, (_, i) => makeRecord(source, from + i, Math.floor(random() * 101)));
    const sender = await Sender.open(3412);

    const before = await rules(filter, 'GET');
    expect(before.status).toBe(200);
    expect(before.body).toMatchObject({ origin: 'threshold', name: 'threshold-90' });

    const a = frame(1);
    await sender.sendFrame(a);
    const changed = await rules(filter, 'PUT', threshold(50));
    expect(changed.status).toBe(200);
    expect(changed.body.version).not.toBe(before.body.version);
    expect(changed.body.origin).toBe('api');
    const b = frame(201);
    await sender.sendFrame(b);

    for (const bad of [
      '{"rules": [',
      {
        rules: [{ name: 'x', when: { field: 'randomValue', op: 'gt', value: 'ninety' }, route: 'queue' }],
        default: 'file',
      },
      { rules: [], default: 'nowhere' },
    ]) {
      const refused = await rules(filter, 'PUT', bad);
      expect(refused.status).toBe(400);
      expect(JSON.stringify(refused.body)).toMatch(/problems|JSON/);
    }
    const stale = await rules(filter, 'PUT', threshold(10), { ...AUTH, 'if-match': String(before.body.version) });
    expect(stale.status).toBe(412);
    expect((await rules(filter, 'GET')).body.version).toBe(changed.body.version);
    const c = frame(401);
    await sender.sendFrame(c);
    sender.close();

    const inFile = readFileSink(outputDir).filter((r) => r.source === source);
    const messages = await rabbit.drain(POSTGRES_QUEUE);
    const inQueue = recordsOf(messages).filter((r) => r.source === source);
    // The source is each message's routing key: what a partitioned topology hashes (docs/scale-out.md).
    const keys = new Set(messages.filter((m) => recordsOf([m])[0]?.source === source).map((m) => m.fields.routingKey));
    expect([...keys]).toEqual([source]);
    const expectFile = [...a.filter((r) => r.randomValue <= 90), ...[...b, ...c].filter((r) => r.randomValue <= 50)];
    const expectQueue = [...a.filter((r) => r.randomValue > 90), ...[...b, ...c].filter((r) => r.randomValue > 50)];
    expect(seqsOf(inFile)).toEqual(seqsOf(expectFile));
    expect(seqsOf(inQueue)).toEqual(seqsOf(expectQueue));
    expect(inFile.length + inQueue.length).toBe(600);

    expect(await filter.metric('dataflow_rules_reloads_total', { source: 'api', outcome: 'refused' })).toBe(2);
    expect(await filter.metric('dataflow_rules_reloads_total', { source: 'api', outcome: 'applied' })).toBe(1);
    expect(await filter.metric('dataflow_rules_info', { version: String(changed.body.version) })).toBe(1);
    expect(
      await filter.metric('dataflow_records_routed_total', { version: String(changed.body.version), route: 'queue' }),
    ).toBe(expectQueue.length - a.filter((r) => r.randomValue > 90).length);
  });

  it('a change while a generator streams switches routing at one point in the stream and loses nothing', async () => {
    const outputDir = mkdtempSync(join(tmpdir(), 'dataflow-rules-flow-'));
    const filter = await new AppProcess('filter', 3422, {
      FILTER_OUTPUT_DIR: outputDir,
      FILTER_ADMIN_TOKEN: TOKEN,
    }).start();
    apps.push(filter);
    const source = `rules-flow-${process.pid}`;
    const total = 3000;
    const generator = await new AppProcess('generator', 3421, {
      GENERATOR_ID: source,
      GENERATOR_RATE: '1000',
      GENERATOR_LIMIT: String(total),
      GENERATOR_STATE_DIR: mkdtempSync(join(tmpdir(), 'dataflow-rules-gen-')),
      FILTER_WS_URL: 'ws://127.0.0.1:3422/ingest',
    }).start();
    apps.push(generator);
    const acked = () => generator.metric('dataflow_records_total', { stage: 'deliver', outcome: 'acked' });
    await waitFor(async () => (await acked()) >= 1000, 30_000, '1000 records acknowledged');
    expect((await rules(filter, 'PUT', threshold(30))).status).toBe(200);
    await waitFor(async () => (await acked()) === total, 60_000, 'every record acknowledged');
    await generator.stop();

    const inFile = readFileSink(outputDir).filter((r) => r.source === source);
    const inQueue = recordsOf(await rabbit.drain(POSTGRES_QUEUE)).filter((r) => r.source === source);
    const all = [...inFile, ...inQueue].sort((x, y) => x.seq - y.seq);
    expect(seqsOf(all)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    // One switch point: every record before it routed by > 90, every record from it on by > 30.
    const queued = new Set(seqsOf(inQueue));
    const oldRule = (r: DataRecord) => queued.has(r.seq) === r.randomValue > 90;
    const newRule = (r: DataRecord) => queued.has(r.seq) === r.randomValue > 30;
    const firstNew = all.findIndex((_record, i) => all.slice(i).every(newRule));
    expect(firstNew).toBeGreaterThan(0);
    expect(all.slice(0, firstNew).every(oldRule)).toBe(true);
    expect(firstNew).toBeLessThan(total);
  });

  it('reloads the rules file when it changes and keeps the rule set in force when the new file is bad', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dataflow-rules-file-'));
    const file = join(dir, 'rules.json');
    writeFileSync(file, JSON.stringify(threshold(70, 'from-file')));
    const filter = await new AppProcess('filter', 3432, {
      FILTER_OUTPUT_DIR: join(dir, 'out'),
      FILTER_RULES_FILE: file,
      FILTER_RULES_POLL_MS: '200',
    }).start();
    apps.push(filter);
    const first = await rules(filter, 'GET', undefined, {});
    expect(first.body).toMatchObject({ name: 'from-file', origin: 'file' });

    await sleep(1100); // a new mtime second, whatever the file system's resolution
    writeFileSync(file, JSON.stringify(threshold(20, 'edited')));
    await waitFor(async () => (await rules(filter, 'GET')).body.name === 'edited', 10_000, 'the edited file in force');

    await sleep(1100);
    writeFileSync(file, '{"name": "broken", "rules": [{"name": "x"}], "default": "file"}');
    await waitFor(
      async () => (await filter.metric('dataflow_rules_reloads_total', { source: 'file', outcome: 'refused' })) === 1,
      10_000,
      'the broken file refused',
    );
    expect((await rules(filter, 'GET')).body.name).toBe('edited');
    expect(await filter.metric('dataflow_rules_reloads_total', { source: 'file', outcome: 'applied' })).toBe(1);
  });

  it('refuses to start on a bad rules file, with one line naming the problem', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dataflow-rules-bad-'));
    const file = join(dir, 'rules.json');
    writeFileSync(file, JSON.stringify({ rules: [], default: 'sideways' }));
    const entry = entryPoint('filter');
    const run = spawnSync(process.execPath, [entry], {
      env: { ...process.env, FILTER_PORT: '3442', FILTER_RULES_FILE: file, FILTER_OUTPUT_DIR: join(dir, 'out') },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.status).toBe(1);
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^filter: invalid configuration: FILTER_RULES_FILE: invalid rule set: default: .*\(got /);
  });

  it('guards /rules and /tail with FILTER_ADMIN_TOKEN, and /tail streams routed records', async () => {
    const outputDir = mkdtempSync(join(tmpdir(), 'dataflow-tail-'));
    const filter = await new AppProcess('filter', 3452, {
      FILTER_OUTPUT_DIR: outputDir,
      FILTER_ADMIN_TOKEN: TOKEN,
    }).start();
    apps.push(filter);
    expect((await fetch(`${filter.baseUrl}/rules`)).status).toBe(401);
    expect((await fetch(`${filter.baseUrl}/rules`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await fetch(`${filter.baseUrl}/tail`)).status).toBe(401);
    expect((await rules(filter, 'PUT', threshold(0), {})).status).toBe(401);

    const controller = new AbortController();
    const response = await fetch(`${filter.baseUrl}/tail`, { headers: AUTH, signal: controller.signal });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/text\/event-stream/);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const source = `tail-${process.pid}`;
    const sender = await Sender.open(3452);
    await sender.sendFrame([makeRecord(source, 1, 95), makeRecord(source, 2, 10)]);
    sender.close();
    let text = '';
    const decoder = new TextDecoder();
    await waitFor(
      async () => {
        const { value } = await reader.read();
        text += decoder.decode(value);
        return (text.match(/event: record/g) ?? []).length >= 2;
      },
      10_000,
      'two tail events',
    );
    controller.abort();
    const events = [...text.matchAll(/^data: (.*)$/gm)].map(
      (m) => JSON.parse(m[1] as string) as Record<string, unknown>,
    );
    const version = (await rules(filter, 'GET')).body.version;
    expect(events).toEqual([
      expect.objectContaining({
        source,
        seq: 1,
        randomValue: 95,
        route: 'queue',
        rule: 'above-threshold',
        rulesVersion: version,
      }),
      expect.objectContaining({
        source,
        seq: 2,
        randomValue: 10,
        route: 'file',
        rule: 'default',
        rulesVersion: version,
      }),
    ]);
  });
});
