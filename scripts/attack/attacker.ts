/**
 * One hostile pattern of `npm run attack`, run in its own process (so its load never delays the
 * runner's own measurements) until SIGTERM; then it prints its counts as one JSON line.
 * Usage: attacker.ts '<AttackerOptions as JSON>'
 */
import { get, type IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import { computeHash } from '@dataflow/contracts';
import type { AttackerOptions, AttackerStats } from './patterns';
import { errorText } from '../kit/tool';

const options = JSON.parse(process.argv[2] ?? '{}') as AttackerOptions;
const MIB = 1024 * 1024;
let running = true;

const stats = {
  framesSent: 0,
  bytesSent: 0,
  connectionsOpened: 0,
  connectionsRefused: 0,
  connectionsClosedByFilter: 0,
  closeCodes: {} as Record<string, number>,
  answers: {} as Record<string, number>,
  recordsAcked: 0,
};

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const bump = (counts: Record<string, number>, key: string): void => {
  counts[key] = (counts[key] ?? 0) + 1;
};

/** Opens an authenticated /ingest connection, or undefined when the filter refuses it. */
function open(read: boolean): Promise<WebSocket | undefined> {
  return new Promise((resolve) => {
    const socket = new WebSocket(`ws://127.0.0.1:${options.port}/ingest`, {
      headers: { authorization: `Bearer ${options.ingestToken}` },
      perMessageDeflate: false,
    });
    let opened = false;
    socket.once('open', () => {
      opened = true;
      stats.connectionsOpened++;
      if (!read) (socket as unknown as { _socket: { pause(): void } })._socket.pause();
      resolve(socket);
    });
    socket.on('error', () => undefined);
    socket.once('unexpected-response', (_request, response: IncomingMessage) => {
      stats.connectionsRefused++;
      response.resume();
      socket.terminate();
      resolve(undefined);
    });
    socket.once('close', (code) => {
      if (opened) {
        bump(stats.closeCodes, String(code));
        if (running) stats.connectionsClosedByFilter++;
      }
      resolve(undefined);
    });
    socket.on('message', (data: Buffer) => {
      try {
        const frame = JSON.parse(data.toString('utf8')) as { event: string; data?: { code?: string; seqs?: number[] } };
        bump(stats.answers, frame.event === 'error' ? (frame.data?.code ?? 'error') : frame.event);
        if (frame.event === 'ack') stats.recordsAcked += frame.data?.seqs?.length ?? 0;
      } catch {
        bump(stats.answers, 'unparsable');
      }
    });
  });
}

function send(socket: WebSocket, frame: string): void {
  socket.send(frame);
  stats.framesSent++;
  stats.bytesSent += frame.length;
}

const closed = (socket: WebSocket): boolean => socket.readyState !== WebSocket.OPEN;

/** Sends `frame` as fast as the socket takes it, until the filter closes the connection. */
async function flood(socket: WebSocket, frame: () => string, maxQueued: number): Promise<void> {
  let stuckSince = 0;
  while (running && !closed(socket)) {
    if (socket.bufferedAmount < maxQueued) {
      stuckSince = 0;
      for (let i = 0; i < 50 && socket.bufferedAmount < maxQueued && !closed(socket); i++) send(socket, frame());
      await new Promise((resolve) => setImmediate(resolve));
    } else {
      // The filter stopped reading (it closes such connections); a paused socket may never see it.
      stuckSince ||= Date.now();
      if (Date.now() - stuckSince > 3000) socket.terminate();
      await sleep(5);
    }
  }
}

/** Opens connection after connection while the attack runs, uses each, then drops it. */
async function connectionAfterConnection(read: boolean, use: (socket: WebSocket) => Promise<void>): Promise<void> {
  while (running) {
    const socket = await open(read);
    if (!socket) {
      await sleep(50);
      continue;
    }
    await use(socket);
    socket.terminate();
  }
}

async function slowReader(): Promise<void> {
  const frame = JSON.stringify({ event: 'records', data: new Array<number>(1000).fill(0) });
  await connectionAfterConnection(false, (socket) => flood(socket, () => frame, 4 * MIB));
}

function maximalFrame(): string {
  const build = (pad: number): string =>
    JSON.stringify({
      event: 'records',
      data: Array.from({ length: 1000 }, (_, i) => ({
        source: 'attack-maximal',
        seq: i + 1,
        timestamp: 1_732_500_000_000,
        randomValue: 1,
        hashValue: '00',
        pad: 'x'.repeat(pad),
      })),
    });
  let pad = 1000;
  while (build(pad).length > MIB - 64) pad--;
  return build(pad);
}

async function deepFrames(): Promise<void> {
  const frame = '['.repeat(MIB - 64);
  await connectionAfterConnection(true, async (socket) => {
    send(socket, frame);
    const deadline = Date.now() + 3000;
    while (!closed(socket) && Date.now() < deadline) await sleep(5);
  });
}

async function maximalFrames(): Promise<void> {
  const frame = maximalFrame();
  await connectionAfterConnection(true, (socket) => flood(socket, () => frame, 2 * MIB));
}

async function connectionFlood(): Promise<void> {
  const held: WebSocket[] = [];
  const loop = async (): Promise<void> => {
    while (running) {
      const socket = await open(true);
      if (!socket) continue;
      held.push(socket);
      while (running && !closed(socket)) await sleep(100);
    }
  };
  await Promise.all(Array.from({ length: 256 }, loop));
  for (const socket of held) socket.terminate();
}

async function tailFlood(): Promise<void> {
  const held: IncomingMessage[] = [];
  const attempt = (): Promise<IncomingMessage | undefined> =>
    new Promise((resolve) => {
      const request = get(
        {
          host: '127.0.0.1',
          port: options.port,
          path: '/tail',
          headers: { authorization: `Bearer ${options.adminToken}` },
        },
        (response) => {
          if (response.statusCode === 200) {
            stats.connectionsOpened++;
            // Never read: the filter's side of the stream fills up.
            response.socket.pause();
            resolve(response);
          } else {
            stats.connectionsRefused++;
            response.resume();
            response.on('end', () => resolve(undefined));
          }
        },
      );
      request.on('error', () => resolve(undefined));
    });
  const loop = async (): Promise<void> => {
    while (running) {
      const response = await attempt();
      if (!response) continue;
      held.push(response);
      while (running && !response.socket.destroyed) await sleep(100);
    }
  };
  await Promise.all(Array.from({ length: 128 }, loop));
  for (const response of held) response.socket.destroy();
}

/** Sends valid records paced at `perSecond`, at most `window` unacknowledged; `record(n)` makes the n-th. */
async function paced(
  perSecond: number,
  perFrame: number,
  window: number,
  record: (n: number) => Record<string, unknown>,
): Promise<void> {
  let made = 0;
  while (running) {
    const socket = await open(true);
    if (!socket) {
      await sleep(100);
      continue;
    }
    const started = Date.now();
    const base = made;
    let acked = 0;
    socket.on('message', (data: Buffer) => {
      const frame = JSON.parse(data.toString('utf8')) as { event: string; data?: { seqs?: number[] } };
      if (frame.event === 'ack') acked += frame.data?.seqs?.length ?? 0;
    });
    while (running && !closed(socket)) {
      const due = Math.floor(((Date.now() - started) / 1000) * perSecond) - (made - base);
      const unacked = made - base - acked;
      let quota = Math.min(due, window - unacked);
      while (quota >= perFrame) {
        const data = Array.from({ length: perFrame }, () => record(++made));
        send(socket, JSON.stringify({ event: 'records', data }));
        quota -= perFrame;
      }
      await sleep(5);
    }
  }
}

function validRecord(source: string, seq: number, n: number): Record<string, unknown> {
  const timestamp = Date.now();
  const randomValue = n % 91; // at most 90: the file sink, never the databases
  return { source, seq, timestamp, randomValue, hashValue: computeHash(timestamp, randomValue) };
}

async function distinctSources(): Promise<void> {
  const run = Date.now().toString(36);
  const perSecond = options.sources / options.seconds;
  await paced(perSecond, 1000, 16_000, (n) => validRecord(`attack-ds-${run}-${n}`, 1, n));
}

async function frameFlood(connection: number): Promise<void> {
  const source = `attack-ff-${Date.now().toString(36)}-${connection}`;
  // Under the limits: 90 % of a connection's frame allowance, within its pending-records bound.
  await paced(0.9 * options.maxFramesPerSecond, 1, 40_000, (n) => validRecord(source, n, n));
}

async function main(): Promise<void> {
  const work: Record<AttackerOptions['pattern'], () => Promise<unknown>> = {
    'slow-reader': () => Promise.all([1, 2, 3, 4].map(() => slowReader())),
    'deep-and-maximal': () => Promise.all([deepFrames(), deepFrames(), maximalFrames(), maximalFrames()]),
    'connection-flood': connectionFlood,
    'tail-flood': tailFlood,
    'distinct-sources': distinctSources,
    'frame-flood': () => Promise.all(Array.from({ length: 4 }, (_, i) => frameFlood(i))),
  };
  await work[options.pattern]();
}

function finish(): void {
  running = false;
  // Give the loops a moment to notice, then report whatever state they are in.
  setTimeout(() => {
    const result: AttackerStats = stats;
    // A write to a pipe completes asynchronously: exit only once it is out.
    process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0));
  }, 300).unref();
}

process.on('SIGTERM', finish);
// Bounded in time whatever happens to the runner: the attack stops by itself a minute after its end.
setTimeout(finish, (options.seconds + 60) * 1000);

main().catch((error: unknown) => {
  process.stderr.write(`attacker: ${errorText(error)}\n`);
  process.exit(1);
});
