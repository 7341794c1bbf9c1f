import type WebSocket from 'ws';
import { IngestConnection } from './ingest-connection';

/** An open socket that swallows what is sent (the pending accounting is pure logic). */
function connection(maxPendingRecords: number): IngestConnection {
  const socket = { OPEN: 1, readyState: 1, bufferedAmount: 0, send: () => undefined } as unknown as WebSocket;
  return new IngestConnection(
    socket,
    '127.0.0.1',
    {
      maxRecordsPerSecond: 1_000_000,
      maxBytesPerSecond: 1 << 30,
      maxFramesPerSecond: 1_000,
      maxSendBufferBytes: 1 << 20,
      maxPendingRecords,
    },
    () => undefined,
  );
}

describe('IngestConnection pending allowance', () => {
  it('counts each distinct source of a waiting frame, and gives it back when the frame is answered', () => {
    const c = connection(80_000);
    c.frameStarted();
    expect(c.admits(1000, 1000)).toBe(true); // nothing else waits: one frame is always taken
    c.sourcesTaken(1000);
    c.taken(1000);
    c.frameStarted();
    // Waiting: 1,000 records, 2 frames (16 each), 1,000 sources (64 each) = 65,032. The same records
    // from one source fit under 80,000; from a thousand new sources they do not.
    expect(c.admits(1000, 1)).toBe(true);
    expect(c.admits(1000, 1000)).toBe(false);
    c.frameSettled(0); // the second frame was refused
    c.frameSettled(1000);
    c.ack(
      's',
      Array.from({ length: 1000 }, (_, i) => i + 1),
    );
    // Another frame of one record waits, so the idle rule does not apply: the thousand sources fit
    // again only because the first frame's cost was given back.
    c.frameStarted();
    c.sourcesTaken(1);
    c.taken(1);
    c.frameStarted();
    expect(c.admits(1000, 1000)).toBe(true);
  });

  it('takes one frame of an otherwise idle connection even when it alone is over the bound', () => {
    const c = connection(1_000);
    c.frameStarted();
    expect(c.admits(1000, 1000)).toBe(true);
    c.sourcesTaken(1000);
    c.taken(1000);
    c.frameStarted();
    expect(c.admits(1, 1)).toBe(false);
  });
});
