/**
 * The WebSocket end of the raw stage: a plain `ws` server in its own process (as the filter is) that
 * parses every text frame and answers one ack per frame in the ingest protocol's shape. Prints
 * `listening <port>` once it accepts connections.
 */
import { WebSocketServer } from 'ws';

interface Frame {
  readonly data?: ReadonlyArray<{ readonly source?: string; readonly seq?: number }>;
}

const port = Number(process.argv[2] ?? '0');
const server = new WebSocketServer({ host: '127.0.0.1', port, path: '/ingest', maxPayload: 1024 * 1024 });
server.on('listening', () => {
  const address = server.address();
  process.stdout.write(`listening ${address !== null && typeof address === 'object' ? address.port : port}\n`);
});
server.on('connection', (socket) => {
  socket.on('message', (raw: Buffer, isBinary) => {
    if (isBinary) return;
    const frame = JSON.parse(raw.toString('utf8')) as Frame;
    const records = frame.data ?? [];
    const seqs = records.map((record) => record.seq ?? 0);
    socket.send(JSON.stringify({ event: 'ack', data: { source: records[0]?.source ?? '', seqs } }));
  });
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
