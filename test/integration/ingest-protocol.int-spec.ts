import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { computeHash, DataRecord, FilterToSenderFrame } from '@dataflow/contracts';
import { AppProcess, waitFor } from '../support/app-process';
import { RabbitProbe } from '../support/rabbit';
import { makeRecord, readFileSink } from '../support/records';
import { entryPoint } from '../../scripts/kit/app-process';

const PORT = 3112;
const URL = `ws://127.0.0.1:${PORT}/ingest`;

/** A raw sender: collects every frame the filter answers, and how the connection closed. */
class RawClient {
  readonly frames: FilterToSenderFrame[] = [];
  closed: { code: number; reason: string } | undefined;

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data: Buffer) => this.frames.push(JSON.parse(data.toString('utf8')) as FilterToSenderFrame));
    socket.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
    });
  }

  static open(url = URL, headers: Record<string, string> = {}): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, { headers });
      socket.once('open', () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  send(data: string | Buffer, binary = false): void {
    this.socket.send(data, { binary });
  }

  sendRecords(records: unknown[]): void {
    this.send(JSON.stringify({ event: 'records', data: records }));
  }

  errors(): Array<FilterToSenderFrame & { event: 'error' }> {
    return this.frames.filter((f): f is FilterToSenderFrame & { event: 'error' } => f.event === 'error');
  }

  /**
   * One entry per refusal: a frame-level error as it is, a record-level error frame (which answers
   * every refused record of its frame) expanded into its refused records.
   */
  refusals(): Array<{ code: string; source?: string; seq?: number }> {
    return this.errors().flatMap((f): Array<{ code: string; source?: string; seq?: number }> =>
      f.data.refused !== undefined
        ? f.data.refused.flatMap((group) => group.seqs.map((seq) => ({ code: group.code, source: group.source, seq })))
        : [f.data],
    );
  }

  ackedSeqs(source: string): number[] {
    return this.frames.flatMap((f) => (f.event === 'ack' && f.data.source === source ? [...f.data.seqs] : []));
  }

  close(): void {
    this.socket.close();
  }
}

describe('filter ingest protocol (CONTRACT.md §4)', () => {
  let filter: AppProcess;
  let rabbit: RabbitProbe;
  const outputDir = mkdtempSync(join(tmpdir(), 'dataflow-proto-'));

  beforeAll(async () => {
    rabbit = await RabbitProbe.connect();
    await rabbit.purgeAll();
    filter = await new AppProcess('filter', PORT, { FILTER_OUTPUT_DIR: outputDir, INGEST_TOKEN: 'test-token' }).start();
  });

  afterAll(async () => {
    expect(await filter.stop()).toBe(0);
    await rabbit.purgeAll();
    await rabbit.close();
  });

  const auth = { authorization: 'Bearer test-token' };

  it('refuses an upgrade without the token with HTTP 401, and accepts ?token=', async () => {
    await expect(RawClient.open(URL)).rejects.toThrow(/401/);
    await expect(RawClient.open(URL, { authorization: 'Bearer wrong-token' })).rejects.toThrow(/401/);
    const client = await RawClient.open(`${URL}?token=test-token`);
    client.close();
  });

  it('answers each kind of bad frame with its code and keeps the valid stream intact', async () => {
    const client = await RawClient.open(URL, auth);
    const source = 'proto-mixed';
    const good = (seq: number): DataRecord => makeRecord(source, seq, 10);
    client.sendRecords([good(1), good(2)]);
    client.send('{not json');
    client.send(JSON.stringify({ event: 'other', data: [] }));
    client.send(JSON.stringify({ event: 'records', data: [] }));
    client.send(JSON.stringify({ event: 'records', data: good(3) }));
    client.send(JSON.stringify({ event: 'records', data: Array.from({ length: 1001 }, (_, i) => good(100 + i)) }));
    client.send(JSON.stringify([1, 2, 3]));
    const badHash = { ...good(4), hashValue: good(4).hashValue === '00' ? '01' : '00' };
    const outOfRange = { ...good(5), randomValue: 101 };
    const extraField = { ...good(6), extra: true };
    client.sendRecords([good(3), badHash, outOfRange, extraField, good(7)]);
    await waitFor(() => client.ackedSeqs(source).length >= 4 && client.refusals().length >= 9, 10_000, 'answers');
    // Six refused frames, and one error frame for the three refused records of the last frame.
    expect(client.errors()).toHaveLength(7);
    const codes = client.refusals().map((f) => f.code);
    expect(codes.slice(0, 6)).toEqual([
      'INVALID_JSON',
      'INVALID_ENVELOPE',
      'INVALID_ENVELOPE',
      'INVALID_ENVELOPE',
      'INVALID_ENVELOPE',
      'INVALID_ENVELOPE',
    ]);
    const recordErrors = client.refusals().slice(6);
    expect(recordErrors.map((f) => [f.code, f.seq])).toEqual([
      ['HASH_MISMATCH', 4],
      ['INVALID_RECORD', 5],
      ['INVALID_RECORD', 6],
    ]);
    expect(recordErrors.every((f) => f.source === source)).toBe(true);
    expect(client.errors()[6]?.data).toMatchObject({ code: 'HASH_MISMATCH', source, seq: 4, count: 3 });
    expect(client.ackedSeqs(source).sort((a, b) => a - b)).toEqual([1, 2, 3, 7]);
    expect(client.closed).toBeUndefined();
    client.close();
    const stored = readFileSink(outputDir).filter((r) => r.source === source);
    expect(stored.map((r) => r.seq)).toEqual([1, 2, 3, 7]);
    expect(
      await filter.metric('dataflow_records_rejected_total', { reason: 'INVALID_ENVELOPE' }),
    ).toBeGreaterThanOrEqual(5);
    expect(await filter.metric('dataflow_records_rejected_total', { reason: 'HASH_MISMATCH' })).toBeGreaterThanOrEqual(
      1,
    );
  });

  it('acknowledges a resent record again without storing it twice', async () => {
    const client = await RawClient.open(URL, auth);
    const source = 'proto-resend';
    const records = [1, 2, 3].map((seq) => makeRecord(source, seq, seq === 2 ? 95 : 5));
    client.sendRecords(records);
    await waitFor(() => client.ackedSeqs(source).length === 3, 10_000, 'first acks');
    client.sendRecords(records);
    client.sendRecords([records[0], records[0]]);
    await waitFor(() => client.ackedSeqs(source).length === 8, 10_000, 'acks of the resend');
    client.close();
    expect(
      readFileSink(outputDir)
        .filter((r) => r.source === source)
        .map((r) => r.seq),
    ).toEqual([1, 3]);
  });

  it('closes with 1003 on a binary frame and 1009 on a frame above 1 MiB', async () => {
    const binary = await RawClient.open(URL, auth);
    binary.send(Buffer.from([1, 2, 3]), true);
    await waitFor(() => binary.closed !== undefined, 5_000, 'close after binary');
    expect(binary.closed?.code).toBe(1003);

    const huge = await RawClient.open(URL, auth);
    huge.send(`{"event":"records","data":["${'x'.repeat(1024 * 1024)}"]}`);
    await waitFor(() => huge.closed !== undefined, 5_000, 'close after oversized frame');
    expect(huge.closed?.code).toBe(1009);
    expect(await filter.metric('dataflow_records_rejected_total', { reason: 'FRAME_TOO_LARGE' })).toBe(1);
  });

  it('keeps the hash rule of the contract (MD5 of timestamp then randomValue, last two hex)', () => {
    expect(computeHash(1_732_500_000_000, 42)).toBe('2e');
  });
});

describe('configuration', () => {
  it('stops with one line naming a bad variable', async () => {
    const { spawnSync } = await import('node:child_process');
    const entry = entryPoint('filter');
    const result = spawnSync(process.execPath, [entry], {
      env: { ...process.env, FILTER_THRESHOLD: 'ninety', FILTER_PORT: '3199' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(result.status).toBe(1);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^filter: invalid configuration: FILTER_THRESHOLD: .*\(got "ninety"\)$/);
  });
});
