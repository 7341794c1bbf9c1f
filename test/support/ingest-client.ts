import WebSocket from 'ws';
import type { DataRecord, FilterToSenderFrame } from '@dataflow/contracts';
import { waitFor } from './app-process';

/**
 * A sender on the filter's `/ingest` that records every answer: acknowledged seqs per source,
 * error frames, and how the connection closed. Unlike the generator it never resends by itself,
 * so a test decides exactly what each attempt carries.
 */
export class IngestClient {
  readonly frames: FilterToSenderFrame[] = [];
  closed: { code: number; reason: string } | undefined;

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data: Buffer) => this.frames.push(JSON.parse(data.toString('utf8')) as FilterToSenderFrame));
    socket.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
    });
    socket.on('error', () => undefined);
  }

  static open(url: string, token?: string): Promise<IngestClient> {
    const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, { headers });
      socket.once('open', () => resolve(new IngestClient(socket)));
      socket.once('error', reject);
    });
  }

  sendRecords(records: readonly DataRecord[]): void {
    this.socket.send(JSON.stringify({ event: 'records', data: records }));
  }

  ackedSeqs(source: string): Set<number> {
    const seqs = new Set<number>();
    for (const frame of this.frames) {
      if (frame.event === 'ack' && frame.data.source === source) for (const seq of frame.data.seqs) seqs.add(seq);
    }
    return seqs;
  }

  async waitAcked(source: string, seqs: readonly number[], timeoutMs = 20_000): Promise<void> {
    await waitFor(
      () => {
        const acked = this.ackedSeqs(source);
        return seqs.every((seq) => acked.has(seq));
      },
      timeoutMs,
      `acks of ${source} ${seqs.join(',')}`,
      () => (this.closed ? `the connection closed with ${this.closed.code} ${this.closed.reason}` : undefined),
    );
  }

  async waitClosed(timeoutMs = 20_000): Promise<{ code: number; reason: string }> {
    await waitFor(() => this.closed !== undefined, timeoutMs, 'the connection to close');
    return this.closed as { code: number; reason: string };
  }

  close(): void {
    this.socket.close();
  }
}
