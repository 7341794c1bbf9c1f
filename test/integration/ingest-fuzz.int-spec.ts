import fc from 'fast-check';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { DataRecord, FilterToSenderFrame, IngestErrorCode } from '@dataflow/contracts';
import { AppProcess, waitFor } from '../support/app-process';
import { RabbitProbe } from '../support/rabbit';
import { makeRecord, readFileSink } from '../support/records';
import { entryPoint } from '../../scripts/kit/app-process';

const PORT = 3122;
const URL = `ws://127.0.0.1:${PORT}/ingest`;
const SEED = Number(process.env.FUZZ_SEED ?? 20261125);
const HOSTILE_FRAMES = Number(process.env.FUZZ_FRAMES ?? 5000);

/** A hostile frame and the answers the contract allows for it. */
interface Case {
  readonly payload: string;
  readonly allowed: readonly IngestErrorCode[];
}

const base = (seq: number): DataRecord => makeRecord('fuzz-hostile', seq, 10);

/** Ways to break a valid record, each one certainly invalid, with the code it must get. */
const recordMutation: fc.Arbitrary<[Record<string, unknown>, IngestErrorCode]> = fc
  .tuple(fc.integer({ min: 1, max: 1_000_000 }), fc.integer({ min: 0, max: 11 }), fc.jsonValue(), fc.string())
  .map(([seq, kind, junk, text]) => {
    const record: Record<string, unknown> = { ...base(seq) };
    switch (kind) {
      case 0:
        delete record[['source', 'seq', 'timestamp', 'randomValue', 'hashValue'][seq % 5] as string];
        return [record, 'INVALID_RECORD'];
      case 1:
        return [{ ...record, [`x${text}`]: junk }, 'INVALID_RECORD'];
      case 2:
        return [{ ...record, seq: -seq }, 'INVALID_RECORD'];
      case 3:
        return [{ ...record, seq: seq + 0.5 }, 'INVALID_RECORD'];
      case 4:
        return [{ ...record, randomValue: 101 + seq }, 'INVALID_RECORD'];
      case 5:
        return [{ ...record, randomValue: String(record.randomValue) }, 'INVALID_RECORD'];
      case 6:
        return [{ ...record, timestamp: -seq }, 'INVALID_RECORD'];
      case 7:
        return [{ ...record, source: `${text}!` }, 'INVALID_RECORD'];
      case 8:
        return [
          { ...record, hashValue: String(record.hashValue).toUpperCase() === record.hashValue ? 'zz' : 'ZZ' },
          'INVALID_RECORD',
        ];
      case 9: {
        const hash = String(record.hashValue);
        const other = hash === 'ff' ? '00' : (parseInt(hash, 16) + 1).toString(16).padStart(2, '0');
        return [{ ...record, hashValue: other }, 'HASH_MISMATCH'];
      }
      case 10:
        return [{ ...record, source: typeof junk === 'string' || junk === null ? 1 : junk }, 'INVALID_RECORD'];
      default:
        return [{ ...record, timestamp: 1e300 }, 'INVALID_RECORD'];
    }
  });

const hostileCase: fc.Arbitrary<Case> = fc.oneof(
  // Text that is not JSON at all, or JSON that is not an envelope.
  fc.string({ minLength: 1, maxLength: 200 }).map((text): Case => {
    let parses = true;
    try {
      JSON.parse(text);
    } catch {
      parses = false;
    }
    return { payload: text, allowed: parses ? ['INVALID_ENVELOPE'] : ['INVALID_JSON'] };
  }),
  fc.jsonValue().map((value): Case => ({ payload: JSON.stringify(value), allowed: ['INVALID_ENVELOPE'] })),
  // Envelopes that are wrong in one way.
  fc.constantFrom<Case>(
    { payload: JSON.stringify({ event: 'records', data: [] }), allowed: ['INVALID_ENVELOPE'] },
    { payload: JSON.stringify({ event: 'record', data: [base(1)] }), allowed: ['INVALID_ENVELOPE'] },
    { payload: JSON.stringify({ event: 'records', data: base(1) }), allowed: ['INVALID_ENVELOPE'] },
    { payload: JSON.stringify({ event: 'records', data: [base(1)], extra: 1 }), allowed: ['INVALID_ENVELOPE'] },
    { payload: JSON.stringify({ data: [base(1)] }), allowed: ['INVALID_ENVELOPE'] },
    {
      payload: JSON.stringify({ event: 'records', data: Array.from({ length: 1001 }, (_, i) => base(i + 1)) }),
      allowed: ['INVALID_ENVELOPE'],
    },
  ),
  // A valid envelope holding one broken record.
  recordMutation.map(([record, code]): Case => ({
    payload: JSON.stringify({ event: 'records', data: [record] }),
    allowed: [code],
  })),
);

/** Sends one frame and waits for the one answer it must get. */
class Prober {
  private waiting: ((frame: FilterToSenderFrame) => void) | undefined;
  readonly unsolicited: FilterToSenderFrame[] = [];
  closed = false;

  private constructor(private readonly socket: WebSocket) {
    socket.on('message', (data: Buffer) => {
      const frame = JSON.parse(data.toString('utf8')) as FilterToSenderFrame;
      if (this.waiting) this.waiting(frame);
      else this.unsolicited.push(frame);
    });
    socket.on('close', () => {
      this.closed = true;
    });
  }

  static open(): Promise<Prober> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(URL);
      socket.once('open', () => resolve(new Prober(socket)));
      socket.once('error', reject);
    });
  }

  ask(payload: string): Promise<FilterToSenderFrame> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer to ${payload.slice(0, 80)}`)), 5000);
      this.waiting = (frame) => {
        clearTimeout(timer);
        this.waiting = undefined;
        resolve(frame);
      };
      this.socket.send(payload);
    });
  }

  /** Sends without waiting; answers collect in `unsolicited`. */
  send(payload: string): void {
    this.socket.send(payload);
  }

  close(): void {
    this.socket.close();
  }
}

describe(`ingest fuzzing (seed ${SEED}, ${HOSTILE_FRAMES} hostile frames)`, () => {
  let filter: AppProcess;
  let rabbit: RabbitProbe;
  const outputDir = mkdtempSync(join(tmpdir(), 'dataflow-fuzz-'));

  beforeAll(async () => {
    rabbit = await RabbitProbe.connect();
    // Each frame must get the answer its content deserves, however fast this machine sends them:
    // the per-connection rate allowances (tested in ingest-bounds) are set out of reach here.
    filter = await new AppProcess('filter', PORT, {
      FILTER_OUTPUT_DIR: outputDir,
      LOG_LEVEL: 'error',
      INGEST_MAX_BYTES_PER_SECOND: String(1024 * 1024 * 1024),
      INGEST_MAX_FRAMES_PER_SECOND: '1000000',
    }).start();
  });

  afterAll(async () => {
    expect(await filter.stop()).toBe(0);
    await rabbit.purgeAll();
    await rabbit.close();
  });

  it('answers every hostile frame with its documented code while a valid stream goes through untouched', async () => {
    const cases = fc.sample(hostileCase, { seed: SEED, numRuns: HOSTILE_FRAMES });
    const hostile = await Prober.open();
    const valid = await Prober.open();
    const validRecords: DataRecord[] = [];
    const wrong: string[] = [];
    for (let i = 0; i < cases.length; i++) {
      const { payload, allowed } = cases[i] as Case;
      const answer = await hostile.ask(payload);
      if (answer.event !== 'error' || !allowed.includes(answer.data.code)) {
        wrong.push(
          `#${i} ${payload.slice(0, 100)} → ${JSON.stringify(answer).slice(0, 200)} (allowed ${allowed.join('|')})`,
        );
      }
      if (i % 10 === 0) {
        const record = makeRecord('fuzz-valid', validRecords.length + 1, i % 100);
        validRecords.push(record);
        valid.send(JSON.stringify({ event: 'records', data: [record] }));
      }
    }
    expect(wrong).toEqual([]);
    const ackedSeqs = (): number[] =>
      valid.unsolicited.flatMap((f) => (f.event === 'ack' && f.data.source === 'fuzz-valid' ? [...f.data.seqs] : []));
    await waitFor(() => ackedSeqs().length === validRecords.length, 30_000, 'every valid record acknowledged');
    expect(ackedSeqs().sort((a, b) => a - b)).toEqual(validRecords.map((r) => r.seq));
    expect(valid.unsolicited.filter((f) => f.event === 'error')).toEqual([]);
    expect(hostile.closed).toBe(false);
    hostile.close();
    valid.close();
    expect((await filter.get('/health/live')).status).toBe(200);
    const stored = readFileSink(outputDir).filter((r) => r.source === 'fuzz-valid');
    const queued = validRecords.filter((r) => r.randomValue > 90).length;
    expect(stored.map((r) => r.seq)).toEqual(validRecords.filter((r) => r.randomValue <= 90).map((r) => r.seq));
    expect(stored.length + queued).toBe(validRecords.length);
    const rejected = await filter.metric('dataflow_records_rejected_total');
    expect(rejected).toBe(cases.length);
  });

  it('refuses a frame over the per-connection rate with RATE_LIMITED and takes nothing of it', async () => {
    const limited = await new AppProcess('filter', PORT + 1, {
      FILTER_OUTPUT_DIR: mkdtempSync(join(tmpdir(), 'dataflow-fuzz-rate-')),
      INGEST_MAX_RECORDS_PER_SECOND: '100',
    }).start();
    try {
      const socket = await new Promise<WebSocket>((resolve, reject) => {
        const s = new WebSocket(`ws://127.0.0.1:${PORT + 1}/ingest`);
        s.once('open', () => resolve(s));
        s.once('error', reject);
      });
      const answers: FilterToSenderFrame[] = [];
      socket.on('message', (data: Buffer) => answers.push(JSON.parse(data.toString('utf8')) as FilterToSenderFrame));
      const records = Array.from({ length: 150 }, (_, i) => makeRecord('fuzz-rate', i + 1, 5));
      socket.send(JSON.stringify({ event: 'records', data: records.slice(0, 80) }));
      socket.send(JSON.stringify({ event: 'records', data: records.slice(80, 150) }));
      await waitFor(() => answers.length === 2, 5000, 'two answers');
      expect(answers.find((a) => a.event === 'ack')?.data).toMatchObject({ source: 'fuzz-rate' });
      expect(answers.find((a) => a.event === 'error')?.data).toMatchObject({ code: 'RATE_LIMITED' });
      socket.close();
      expect(await limited.metric('dataflow_records_rejected_total', { reason: 'RATE_LIMITED' })).toBe(1);
    } finally {
      await limited.stop();
    }
  });
});

describe('production start-up', () => {
  it('refuses to start without INGEST_TOKEN when NODE_ENV=production, with one line', async () => {
    const { spawnSync } = await import('node:child_process');
    const result = spawnSync(process.execPath, [entryPoint('filter')], {
      env: { ...process.env, NODE_ENV: 'production', INGEST_TOKEN: '', FILTER_PORT: '3198' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr.trim()).toBe(
      'filter: invalid configuration: INGEST_TOKEN: is required when NODE_ENV=production (got unset)',
    );
  });
});
