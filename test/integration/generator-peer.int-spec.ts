import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocketServer } from 'ws';
import { AppProcess, LOG_DIR, waitFor } from '../support/app-process';
import { entryPoint } from '../../scripts/kit/app-process';

/** Ports of this spec: 4335 to 4339. */
const GENERATOR_PORT = 4335;
const FAKE_FILTER_PORT = 4339;

/**
 * A stand-in for the filter that answers each records frame with what `answer` returns: first
 * garbage, later proper acks. The generator must survive the garbage and lose nothing.
 */
describe('generator against a broken peer (issue: robust peers)', () => {
  let server: WebSocketServer;
  let mode: 'garbage' | 'ack' = 'garbage';
  const ackedSeqs = new Set<number>();
  const garbage = [
    'null',
    '{"event":"ack"}',
    '{"event":"error"}',
    '{"event":"ack","data":{"source":"peer","seqs":["x"]}}',
    '42',
  ];

  beforeAll(() => {
    server = new WebSocketServer({ host: '127.0.0.1', port: FAKE_FILTER_PORT });
    server.on('connection', (socket) => {
      socket.on('message', (data: Buffer) => {
        const frame = JSON.parse(data.toString('utf8')) as { data: Array<{ seq: number }> };
        if (mode === 'garbage') {
          for (const text of garbage) socket.send(text);
          socket.send(Buffer.from([1, 2, 3]), { binary: true });
          return;
        }
        const seqs = frame.data.map((record) => record.seq);
        for (const seq of seqs) ackedSeqs.add(seq);
        socket.send(JSON.stringify({ event: 'ack', data: { source: 'peer', seqs } }));
      });
    });
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('counts and logs malformed frames, keeps running, and resends every record once the peer behaves', async () => {
    const generator = await new AppProcess('generator', GENERATOR_PORT, {
      GENERATOR_ID: 'peer',
      GENERATOR_RATE: '20',
      GENERATOR_LIMIT: '40',
      GENERATOR_STATE_DIR: mkdtempSync(join(tmpdir(), 'dataflow-peer-')),
      GENERATOR_ACK_TIMEOUT_MS: '500',
      GENERATOR_RECONNECT_MAX_MS: '500',
      GENERATOR_BREAKER_HALF_OPEN_MS: '200',
      FILTER_WS_URL: `ws://127.0.0.1:${FAKE_FILTER_PORT}/ingest?token=never-logged`,
    }).start();
    try {
      await waitFor(
        async () => (await generator.metric('dataflow_malformed_frames_total', { peer: 'filter' })) >= 12,
        10_000,
        'malformed frames counted',
      );
      expect((await generator.get('/health/live')).status).toBe(200);
      expect(await generator.metric('dataflow_records_total', { stage: 'deliver', outcome: 'acked' })).toBe(0);
      mode = 'ack';
      await waitFor(
        async () => (await generator.metric('dataflow_records_total', { stage: 'deliver', outcome: 'acked' })) === 40,
        30_000,
        'every generated record acknowledged after all',
      );
      expect([...ackedSeqs].sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
      const log = readFileSync(join(LOG_DIR, `generator-${GENERATOR_PORT}.log`), 'utf8');
      expect(log).toContain('does not follow the protocol');
      expect(log).not.toContain('never-logged');
    } finally {
      expect(await generator.stop()).toBe(0);
    }
  });

  it('refuses a corrupt seq file at start with one line naming the file', async () => {
    const { spawnSync } = await import('node:child_process');
    const dir = mkdtempSync(join(tmpdir(), 'dataflow-seq-'));
    for (const content of ['', ' \n', '0x1F', '1e4']) {
      writeFileSync(join(dir, 'generator-1.seq'), content);
      const result = spawnSync(process.execPath, [entryPoint('generator')], {
        env: { ...process.env, GENERATOR_STATE_DIR: dir, GENERATOR_PORT: String(GENERATOR_PORT) },
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(result.status).toBe(1);
      const lines = result.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(`corrupt seq file ${join(dir, 'generator-1.seq')}`);
    }
  });
});
