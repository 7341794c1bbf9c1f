import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import type { DataRecord, FilterToSenderFrame } from '@dataflow/contracts';
import { AppProcess, LOG_DIR, sleep, waitFor } from '../support/app-process';
import { makeRecord } from '../support/records';

/** Ports of this spec: 4311 to 4319. */
const PORT = 4311;
const LOW_RATE_PORT = 4312;

type ErrorFrame = FilterToSenderFrame & { event: 'error' };

/** A raw sender that records every answer and how the connection ended. */
class Client {
  readonly frames: FilterToSenderFrame[] = [];
  closed: { code: number; reason: string } | undefined;

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data: Buffer) => this.frames.push(JSON.parse(data.toString('utf8')) as FilterToSenderFrame));
    socket.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
    });
    socket.on('error', () => undefined);
  }

  static open(port: number, headers: Record<string, string> = {}): Promise<Client> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(`ws://127.0.0.1:${port}/ingest`, { headers, perMessageDeflate: false });
      socket.once('open', () => resolve(new Client(socket)));
      socket.once('error', reject);
    });
  }

  errors(): ErrorFrame[] {
    return this.frames.filter((f): f is ErrorFrame => f.event === 'error');
  }

  acked(source: string): number[] {
    return this.frames.flatMap((f) => (f.event === 'ack' && f.data.source === source ? [...f.data.seqs] : []));
  }

  async close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return;
    this.socket.close();
    await waitFor(() => this.socket.readyState === WebSocket.CLOSED, 5000, 'the connection to close');
  }
}

/** Lines of the app's log written since `offset`. */
function logSince(file: string, offset: number): string[] {
  return readFileSync(file, 'utf8').slice(offset).split('\n');
}

function tailRequest(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/tail' }, (res) => {
      resolve(res.statusCode ?? 0);
      // A 200 stays open as an event stream until the test ends it.
      if (res.statusCode !== 200) res.resume();
    });
    req.on('error', reject);
    req.end();
  });
}

describe('bounds on what one ingest client can cost the filter', () => {
  let filter: AppProcess;
  let lowRate: AppProcess;

  beforeAll(async () => {
    filter = await new AppProcess('filter', PORT, {
      FILTER_OUTPUT_DIR: mkdtempSync(join(tmpdir(), 'dataflow-bounds-')),
      INGEST_MAX_CONNECTIONS: '4',
      INGEST_MAX_NEW_CONNECTIONS_PER_SECOND: '1000',
      // Its tests close connections for abuse one after another; the penalty is tested on the other filter.
      INGEST_ABUSE_PENALTY_MS: '0',
      INGEST_MAX_SEND_BUFFER_BYTES: '65536',
      INGEST_MAX_BYTES_PER_SECOND: String(1024 * 1024 * 1024),
      INGEST_MAX_RECORDS_PER_SECOND: '10000000',
      INGEST_MAX_FRAMES_PER_SECOND: '1000000',
      INGEST_REFUSAL_LOGS_PER_SECOND: '5',
      FILTER_TAIL_MAX_CLIENTS: '2',
      INGEST_MAX_PENDING_RECORDS: '1100',
      // Acks come at the next flush: a frame sent right after another finds the first still pending.
      FILTER_FLUSH_INTERVAL_MS: '200',
    }).start();
    lowRate = await new AppProcess('filter', LOW_RATE_PORT, {
      FILTER_OUTPUT_DIR: mkdtempSync(join(tmpdir(), 'dataflow-bounds-rate-')),
      INGEST_MAX_BYTES_PER_SECOND: String(64 * 1024),
      INGEST_MAX_FRAMES_PER_SECOND: '100',
      INGEST_MAX_NEW_CONNECTIONS_PER_SECOND: '2',
      // Longer than the default: the flooding client sees its close only once the filter cuts the
      // connection (it no longer reads it, so the close handshake cannot complete), a second later.
      INGEST_ABUSE_PENALTY_MS: '3000',
    }).start();
  });

  afterAll(async () => {
    expect(await filter.stop()).toBe(0);
    expect(await lowRate.stop()).toBe(0);
  });

  it('answers all refused records of a frame with one error frame, in the contract shape', async () => {
    const client = await Client.open(PORT);
    const source = 'bounds-aggregate';
    const good = (seq: number) => makeRecord(source, seq, 10);
    const badHash = { ...good(2), hashValue: good(2).hashValue === '00' ? '01' : '00' };
    const refused = [badHash, { ...good(3), randomValue: 101 }, { ...good(4), extra: 1 }, 'not a record'];
    client.socket.send(JSON.stringify({ event: 'records', data: [good(1), ...refused, good(5)] }));
    await waitFor(() => client.acked(source).length === 2 && client.errors().length === 1, 10_000, 'answers');
    await sleep(200);
    expect(client.errors()).toHaveLength(1);
    expect(client.errors()[0]?.data).toEqual({
      code: 'HASH_MISMATCH',
      message: expect.any(String) as string,
      source,
      seq: 2,
      count: 4,
      refused: [
        { code: 'HASH_MISMATCH', source, seqs: [2] },
        { code: 'INVALID_RECORD', source, seqs: [3, 4] },
      ],
    });
    expect(client.acked(source).sort((a, b) => a - b)).toEqual([1, 5]);
    expect(client.closed).toBeUndefined();
    await client.close();
  });

  it('closes a client that does not read its answers once INGEST_MAX_SEND_BUFFER_BYTES are queued (1008)', async () => {
    const client = await Client.open(PORT);
    // The client's TCP socket stops reading: answers pile up in the kernel, then in the filter.
    (client.socket as unknown as { _socket: { pause(): void } })._socket.pause();
    const before = await filter.metric('dataflow_records_rejected_total', { reason: 'SLOW_READER' });
    const heapBefore = await filter.metric('nodejs_heap_size_used_bytes');
    let sent = 0;
    // Every 1-byte frame is answered with an INVALID_JSON error frame of about 90 bytes.
    while (
      sent < 400_000 &&
      (await filter.metric('dataflow_records_rejected_total', { reason: 'SLOW_READER' })) === before
    ) {
      for (let i = 0; i < 5000 && client.socket.readyState === WebSocket.OPEN; i++) client.socket.send('x');
      sent += 5000;
      await sleep(20);
    }
    expect(await filter.metric('dataflow_records_rejected_total', { reason: 'SLOW_READER' })).toBe(before + 1);
    // Far less than the ~90 bytes per frame the answers to 400,000 frames would have taken.
    expect((await filter.metric('nodejs_heap_size_used_bytes')) - heapBefore).toBeLessThan(32 * 1024 * 1024);
    (client.socket as unknown as { _socket: { resume(): void } })._socket.resume();
    await waitFor(() => client.closed !== undefined, 10_000, 'the slow reader to be closed');
    // Either the close frame got through (1008) or the connection was cut after the grace period.
    expect([1008, 1006]).toContain(client.closed?.code);
    expect((await filter.get('/health/live')).status).toBe(200);
  });

  it('closes a frame nested deeper than INGEST_MAX_JSON_DEPTH (1008) without parsing it, and answers one at the limit', async () => {
    const atLimit = await Client.open(PORT);
    atLimit.socket.send(`${'['.repeat(32)}${']'.repeat(32)}`);
    await waitFor(() => atLimit.errors().length === 1, 5000, 'an answer');
    expect(atLimit.errors()[0]?.data.code).toBe('INVALID_ENVELOPE');
    await atLimit.close();

    const deep = await Client.open(PORT);
    const started = Date.now();
    deep.socket.send('['.repeat(1024 * 1024 - 16));
    await waitFor(() => deep.closed !== undefined, 5000, 'the deep frame to be refused');
    expect(Date.now() - started).toBeLessThan(1000);
    expect(deep.closed?.code).toBe(1008);
    expect(deep.errors()).toEqual([]);
    expect(await filter.metric('dataflow_records_rejected_total', { reason: 'FRAME_TOO_DEEP' })).toBe(1);
  });

  it('charges every frame, invalid ones too, against INGEST_MAX_BYTES_PER_SECOND (RATE_LIMITED, still open)', async () => {
    const client = await Client.open(LOW_RATE_PORT);
    // 64 KiB a second, one second of burst: about 65 frames of 1 KB pass.
    for (let i = 0; i < 150; i++) client.socket.send(`{${'x'.repeat(1000)}`);
    await waitFor(() => client.errors().length === 150, 10_000, 'an answer to every frame');
    const codes = client.errors().map((f) => f.data.code);
    expect(codes.filter((c) => c === 'INVALID_JSON').length).toBeGreaterThan(50);
    expect(codes.filter((c) => c === 'INVALID_JSON').length).toBeLessThan(100);
    expect(codes.filter((c) => c === 'RATE_LIMITED').length).toBeGreaterThan(50);
    expect(client.errors().find((f) => f.data.code === 'RATE_LIMITED')?.data.message).toMatch(
      /INGEST_MAX_BYTES_PER_SECOND/,
    );
    expect(client.closed).toBeUndefined();
    await client.close();
  });

  it('stops reading a connection over its byte allowance until the allowance covers it again', async () => {
    await sleep(1100);
    const client = await Client.open(LOW_RATE_PORT);
    // 32 frames of 60 KB: the first passes (64 KiB a second), each further one is refused and then
    // the socket is not read for about a second, so the rest wait in TCP on the sender's side.
    for (let i = 0; i < 32; i++) client.socket.send(`{${'x'.repeat(60_000)}`);
    await waitFor(() => client.errors().length >= 2, 5000, 'the first answers');
    await sleep(1500);
    const answered = client.errors().length;
    // Read at once, all 32 would be answered by now (one INVALID_JSON, 31 RATE_LIMITED).
    expect(answered).toBeLessThan(16);
    expect(client.errors().some((f) => f.data.code === 'RATE_LIMITED')).toBe(true);
    expect(client.closed).toBeUndefined();
    // A close frame would wait behind the frames not read yet.
    client.socket.terminate();
  });

  it('charges every frame against INGEST_MAX_FRAMES_PER_SECOND, with ten seconds of burst', async () => {
    const client = await Client.open(LOW_RATE_PORT);
    // 100 a second, 1000 at once; fewer than 100 refused in a row, so the connection stays open.
    for (let i = 0; i < 1080; i++) client.socket.send('x');
    await waitFor(() => client.errors().length === 1080, 10_000, 'an answer to every frame');
    const codes = client.errors().map((f) => f.data.code);
    expect(codes.filter((c) => c === 'INVALID_JSON').length).toBeGreaterThanOrEqual(1000);
    expect(codes.filter((c) => c === 'RATE_LIMITED').length).toBeGreaterThan(40);
    expect(client.errors().find((f) => f.data.code === 'RATE_LIMITED')?.data.message).toMatch(
      /INGEST_MAX_FRAMES_PER_SECOND/,
    );
    expect(client.closed).toBeUndefined();
    await client.close();
  });

  it('rations new connections (INGEST_MAX_NEW_CONNECTIONS_PER_SECOND, HTTP 503), counted', async () => {
    await sleep(1100);
    const outcomes: string[] = [];
    for (let i = 0; i < 5; i++) {
      try {
        await (await Client.open(LOW_RATE_PORT)).close();
        outcomes.push('open');
      } catch (error) {
        outcomes.push(String(error).includes('503') ? '503' : String(error));
      }
    }
    expect(outcomes.filter((o) => o === 'open').length).toBeGreaterThanOrEqual(2);
    expect(outcomes.filter((o) => o === 'open').length).toBeLessThanOrEqual(3);
    expect(outcomes.filter((o) => o === '503').length).toBe(5 - outcomes.filter((o) => o === 'open').length);
    expect(
      await lowRate.metric('dataflow_connections_refused_total', { endpoint: 'ingest', reason: 'rate' }),
    ).toBeGreaterThanOrEqual(2);
  });

  it('closes a sender that ignores RATE_LIMITED (1008) and bars its address for INGEST_ABUSE_PENALTY_MS', async () => {
    await sleep(1100);
    const client = await Client.open(LOW_RATE_PORT);
    for (let i = 0; i < 1300 && client.socket.readyState === WebSocket.OPEN; i++) client.socket.send('x');
    await waitFor(() => client.closed !== undefined, 5000, 'the flooding client to be closed');
    expect(client.closed?.code).toBe(1008);
    expect(await lowRate.metric('dataflow_records_rejected_total', { reason: 'RATE_LIMIT_IGNORED' })).toBe(1);
    await expect(Client.open(LOW_RATE_PORT)).rejects.toThrow(/503/);
    expect(await lowRate.metric('dataflow_connections_refused_total', { endpoint: 'ingest', reason: 'penalty' })).toBe(
      1,
    );
    await sleep(3100);
    await (await Client.open(LOW_RATE_PORT)).close();
  });

  it('refuses records beyond INGEST_MAX_PENDING_RECORDS waiting for their hand-off (RATE_LIMITED)', async () => {
    const client = await Client.open(PORT);
    const source = 'bounds-pending';
    const records = Array.from({ length: 1100 }, (_, i) => makeRecord(source, i + 1, 10));
    // 1000 records and a frame (16) wait; 100 more and a second frame would pass the bound of 1100.
    client.socket.send(JSON.stringify({ event: 'records', data: records.slice(0, 1000) }));
    client.socket.send(JSON.stringify({ event: 'records', data: records.slice(1000) }));
    await waitFor(() => client.acked(source).length === 1000 && client.errors().length === 1, 10_000, 'answers');
    expect(client.errors()[0]?.data.code).toBe('RATE_LIMITED');
    expect(client.errors()[0]?.data.message).toMatch(/INGEST_MAX_PENDING_RECORDS/);
    // Once acknowledged, the allowance is back.
    client.socket.send(JSON.stringify({ event: 'records', data: records.slice(1000) }));
    await waitFor(() => client.acked(source).length === 1100, 10_000, 'the resent records acknowledged');
    await client.close();
  });

  it('counts each distinct source of a waiting frame against INGEST_MAX_PENDING_RECORDS (RATE_LIMITED)', async () => {
    const client = await Client.open(PORT);
    const run = `bounds-sources-${Date.now().toString(36)}`;
    const fromSources = (from: number, count: number) =>
      Array.from({ length: count }, (_, i) => makeRecord(`${run}-${from + i}`, 1, 10));
    const first = fromSources(1, 12); // 12 records + 16 for the frame + 12 × 64 for its sources: 796 wait
    const manySources = fromSources(13, 5); // + 5 + 16 + 5 × 64: 1137, over 1100
    const oneSource = Array.from({ length: 20 }, (_, i) => makeRecord(`${run}-one`, i + 1, 10)); // + 20 + 16 + 64: 896
    const ackedAll = (records: readonly DataRecord[]) => records.every((r) => client.acked(r.source).includes(r.seq));
    for (const frame of [first, manySources, oneSource])
      client.socket.send(JSON.stringify({ event: 'records', data: frame }));
    await waitFor(() => ackedAll(first) && ackedAll(oneSource) && client.errors().length === 1, 10_000, 'answers');
    expect(client.errors()[0]?.data.code).toBe('RATE_LIMITED');
    expect(client.errors()[0]?.data.message).toMatch(/sources waiting/);
    expect(manySources.some((r) => client.acked(r.source).length > 0)).toBe(false);
    // Once the others are acknowledged, the allowance is back.
    client.socket.send(JSON.stringify({ event: 'records', data: manySources }));
    await waitFor(() => ackedAll(manySources), 10_000, 'the resent records acknowledged');
    await client.close();
  });

  it('caps open ingest connections (HTTP 503) and counts refused upgrades', async () => {
    const before = await filter.metric('dataflow_connections_refused_total', { endpoint: 'ingest', reason: 'limit' });
    const attempts = await Promise.allSettled(Array.from({ length: 12 }, () => Client.open(PORT)));
    const open = attempts.flatMap((a) => (a.status === 'fulfilled' ? [a.value] : []));
    const refused = attempts.filter((a) => a.status === 'rejected');
    expect(open).toHaveLength(4);
    for (const failure of refused) expect(String(failure.reason)).toMatch(/503/);
    expect(await filter.metric('dataflow_connections_refused_total', { endpoint: 'ingest', reason: 'limit' })).toBe(
      before + 8,
    );
    await Promise.all(open.map((client) => client.close()));
    await waitFor(
      async () => (await Client.open(PORT).then((c) => c.close().then(() => true))) === true,
      5000,
      'a slot',
    );
  });

  it('caps /tail subscribers (HTTP 503), counted', async () => {
    expect(await tailRequest(PORT)).toBe(200);
    expect(await tailRequest(PORT)).toBe(200);
    expect(await tailRequest(PORT)).toBe(503);
    expect(await filter.metric('dataflow_connections_refused_total', { endpoint: 'tail', reason: 'limit' })).toBe(1);
  });

  it('samples refusal log lines (INGEST_REFUSAL_LOGS_PER_SECOND) and counts the rest', async () => {
    const log = join(LOG_DIR, `filter-${PORT}.log`);
    const offset = statSync(log).size;
    const suppressedBefore = await filter.metric('dataflow_log_lines_suppressed_total', { category: 'refusal' });
    const rejectedBefore = await filter.metric('dataflow_records_rejected_total', { reason: 'INVALID_JSON' });
    const client = await Client.open(PORT);
    for (let i = 0; i < 300; i++) client.socket.send('not json');
    await waitFor(() => client.errors().length === 300, 10_000, 'every answer');
    await client.close();
    expect(await filter.metric('dataflow_records_rejected_total', { reason: 'INVALID_JSON' })).toBe(
      rejectedBefore + 300,
    );
    const logged = logSince(log, offset).filter((line) => line.includes('INVALID_JSON')).length;
    expect(logged).toBeLessThanOrEqual(15);
    expect(await filter.metric('dataflow_log_lines_suppressed_total', { category: 'refusal' })).toBeGreaterThanOrEqual(
      suppressedBefore + 300 - 15,
    );
  });
});
