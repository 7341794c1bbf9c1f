import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataRecord, hourFileName, POSTGRES_QUEUE } from '@dataflow/contracts';
import { AppProcess, sleep, waitFor } from '../support/app-process';
import { IngestClient } from '../support/ingest-client';
import { RabbitProbe, recordsOf } from '../support/rabbit';
import { makeRecord, readFileSink, seqsOf } from '../support/records';

const PORT = 3711;
const URL = `ws://127.0.0.1:${PORT}/ingest`;
const ADMIN = 'redelivery-admin-token';

/**
 * The filter when a resend differs from the first attempt: the route changed in between, one sink
 * failed fast while the other still had the records pending, or a crash cut a flush across two
 * hour files. Every acknowledged record must be in each sink of its route exactly once.
 */
describe('filter: resends that differ from the first attempt', () => {
  let rabbit: RabbitProbe;
  const apps: AppProcess[] = [];
  let run = 0;

  beforeAll(async () => {
    rabbit = await RabbitProbe.connect();
  });

  beforeEach(async () => {
    await rabbit.purgeAll();
  });

  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.kill()));
    await rabbit.declare(); // re-binds anything a test unbound
    await rabbit.purgeAll();
  });

  afterAll(async () => {
    await rabbit.close();
  });

  function freshSource(name: string): string {
    return `fr-${name}-${process.pid}-${++run}`;
  }

  async function startFilter(outputDir: string, env: Record<string, string> = {}): Promise<AppProcess> {
    const filter = new AppProcess('filter', PORT, {
      FILTER_OUTPUT_DIR: outputDir,
      FILTER_ADMIN_TOKEN: ADMIN,
      FILTER_BREAKER_HALF_OPEN_MS: '500',
      ...env,
    });
    apps.push(filter);
    return filter.start();
  }

  async function putRules(filter: AppProcess, rules: unknown): Promise<void> {
    const response = await fetch(`${filter.baseUrl}/rules`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify(rules),
    });
    expect(response.status).toBe(200);
  }

  /** Sends `records` on fresh connections until all are acknowledged (the sender's resend loop). */
  async function deliver(source: string, records: readonly DataRecord[], timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const client = await IngestClient.open(URL);
      client.sendRecords(records);
      try {
        await client.waitAcked(source, seqsOf(records), Math.max(1000, Math.min(5000, deadline - Date.now())));
        client.close();
        return;
      } catch (error) {
        client.close();
        if (Date.now() > deadline) throw error;
        await sleep(200);
      }
    }
  }

  async function queuedSeqs(source: string): Promise<number[]> {
    return seqsOf(recordsOf(await rabbit.drain(POSTGRES_QUEUE)).filter((r) => r.source === source));
  }

  it('a route change between a partial failure and the resend loses nothing: resent records keep their route', async () => {
    const outputDir = mkdtempSync(join(tmpdir(), 'dataflow-route-change-'));
    const filter = await startFilter(outputDir);
    const source = freshSource('route-change');
    // 8 and 9 go to the file, 10 to the queue (threshold 90).
    const records = [makeRecord(source, 8, 10), makeRecord(source, 9, 20), makeRecord(source, 10, 95)];
    execFileSync('chattr', ['+i', outputDir]);
    try {
      const first = await IngestClient.open(URL);
      first.sendRecords(records);
      expect((await first.waitClosed()).code).toBe(1013); // the file leg failed, the queue leg was confirmed
      expect(first.ackedSeqs(source).size).toBe(0);
      await putRules(filter, { name: 'all-to-queue', rules: [], default: 'queue' });
    } finally {
      execFileSync('chattr', ['-i', outputDir]);
    }
    await deliver(source, records);
    // A new record takes the new rules.
    const next = makeRecord(source, 11, 10);
    await deliver(source, [next]);
    expect(seqsOf(readFileSink(outputDir).filter((r) => r.source === source))).toEqual([8, 9]);
    expect(new Set(await queuedSeqs(source))).toEqual(new Set([10, 11]));
  });

  it('a leg failing fast while the other is still buffered does not write a record twice', async () => {
    const outputDir = mkdtempSync(join(tmpdir(), 'dataflow-fast-fail-'));
    const filter = await startFilter(outputDir, { FILTER_FLUSH_INTERVAL_MS: '200' });
    await putRules(filter, { name: 'both', rules: [], default: 'both' });
    const source = freshSource('fast-fail');
    const records = [makeRecord(source, 1, 50)];
    // No queue bound: every publish comes back unroutable at once, while the file leg waits for its flush.
    // (After the filter declared the topology, or its declaration would bind them again.)
    await waitFor(async () => (await filter.get('/health/ready')).status === 200, 30_000, 'filter ready');
    await rabbit.unbindAll();
    for (let attempt = 0; attempt < 4; attempt++) {
      const client = await IngestClient.open(URL);
      client.sendRecords(records);
      expect((await client.waitClosed()).code).toBe(1013);
    }
    await rabbit.declare();
    await deliver(source, records);
    await sleep(500);
    expect(seqsOf(readFileSink(outputDir).filter((r) => r.source === source))).toEqual([1]);
    expect((await queuedSeqs(source)).length).toBeGreaterThanOrEqual(1);
  });

  it('after a crash that cut a flush across two hour files, the missing record is written on resend', async () => {
    const outputDir = mkdtempSync(join(tmpdir(), 'dataflow-torn-flush-'));
    const source = freshSource('torn-flush');
    const at = (hour: number, minute: number): number => Date.UTC(2024, 10, 25, hour, minute);
    const before = Array.from({ length: 9 }, (_, i) => makeRecord(source, i + 1, 10, at(3, i)));
    let filter = await startFilter(outputDir);
    await deliver(source, before);
    await sleep(1500); // the checkpoint is written at most once a second
    await filter.kill();
    // A flush of 10 (hour 03), 11 (hour 02, the clock stepped back) and 12 (hour 03) that the crash
    // cut after the 03 file was written and synced: 11 never reached its file.
    const [r10, r11, r12] = [
      makeRecord(source, 10, 10, at(3, 20)),
      makeRecord(source, 11, 10, at(2, 59)),
      makeRecord(source, 12, 10, at(3, 21)),
    ];
    appendFileSync(join(outputDir, hourFileName(at(3, 0))), `${JSON.stringify(r10)}\n${JSON.stringify(r12)}\n`);
    filter = await startFilter(outputDir);
    await deliver(source, [r10, r11, r12]);
    await filter.stop();
    const stored = seqsOf(readFileSink(outputDir).filter((r) => r.source === source)).sort((a, b) => a - b);
    expect(stored).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
  });

  it('keeps per-source state bounded, and a source back after it left memory is still deduplicated', async () => {
    const outputDir = mkdtempSync(join(tmpdir(), 'dataflow-eviction-'));
    const env = { FILTER_MAX_SOURCES: '100', FILTER_SOURCE_IDLE_MS: '1000' };
    let filter = await startFilter(outputDir, env);
    const sources = Array.from({ length: 1000 }, (_, i) => freshSource(`many-${i}`));
    const first = sources.map((source) => makeRecord(source, 1, 10));
    for (let i = 0; i < first.length; i += 100) {
      const client = await IngestClient.open(URL);
      const frame = first.slice(i, i + 100);
      client.sendRecords(frame);
      for (const record of frame) await client.waitAcked(record.source, [1]);
      client.close();
    }
    // Two sweeps: the sources leave memory, their floors go to the floor store.
    await sleep(12_000);
    const checkpoint = JSON.parse(readFileSync(join(outputDir, '.checkpoint.json'), 'utf8')) as {
      sources: Record<string, unknown>;
    };
    expect(Object.keys(checkpoint.sources).length).toBeLessThanOrEqual(100);
    expect(statSync(join(outputDir, '.floors.sqlite')).size).toBeGreaterThan(0);
    const returning = first[5] as DataRecord;
    const afterRestart = first[7] as DataRecord;
    // Resent: acknowledged again, not written again; a new record of it is written.
    await deliver(returning.source, [returning]);
    await deliver(returning.source, [makeRecord(returning.source, 2, 10)]);
    // And after a restart, from the floor store.
    await filter.stop();
    filter = await startFilter(outputDir, env);
    await deliver(afterRestart.source, [afterRestart]);
    const lines = (source: string): number[] => seqsOf(readFileSink(outputDir).filter((r) => r.source === source));
    expect(lines(returning.source)).toEqual([1, 2]);
    expect(lines(afterRestart.source)).toEqual([1]);
    expect(readFileSink(outputDir).length).toBe(1001);
    expect(filter.port).toBe(PORT);
  });

  it('after a crash, a source that came back after leaving memory keeps the floor it left with', async () => {
    const outputDir = mkdtempSync(join(tmpdir(), 'dataflow-evicted-crash-'));
    const env = { FILTER_SOURCE_IDLE_MS: '1000' };
    const source = freshSource('evicted-crash');
    const checkpointPath = join(outputDir, '.checkpoint.json');
    const listed = (): boolean =>
      existsSync(checkpointPath) &&
      source in (JSON.parse(readFileSync(checkpointPath, 'utf8')) as { sources: Record<string, unknown> }).sources;
    const early = Array.from({ length: 5 }, (_, i) => makeRecord(source, i + 1, 10));
    let filter = await startFilter(outputDir, env);
    await deliver(source, early);
    // Idle: it leaves memory (its floor, 5, goes to the floor store) and the next checkpoint drops it.
    await waitFor(
      () => existsSync(join(outputDir, '.floors.sqlite')) && !listed(),
      30_000,
      'the source to leave memory',
    );
    const checkpointWithoutIt = readFileSync(checkpointPath);
    // It comes back; the filter is killed before a checkpoint lists it again (made certain by putting
    // the checkpoint of that moment back): at start the scan finds 6..8 of it, and only those.
    await deliver(
      source,
      [6, 7, 8].map((seq) => makeRecord(source, seq, 10)),
    );
    await filter.kill();
    writeFileSync(checkpointPath, checkpointWithoutIt);
    filter = await startFilter(outputDir, env);
    // The sender resends everything: 1..5 are below the floor it left memory with, not new.
    await deliver(source, [...early, ...[6, 7, 8, 9].map((seq) => makeRecord(source, seq, 10))]);
    await filter.stop();
    expect(seqsOf(readFileSink(outputDir).filter((r) => r.source === source))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
});
