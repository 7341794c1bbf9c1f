/** One sent frame: settles when every record in it is acknowledged, fails when told to. */
export class SentFrame {
  private remaining: number;
  private settle!: { resolve: () => void; reject: (error: Error) => void };
  readonly done: Promise<void>;

  constructor(readonly seqs: readonly number[]) {
    this.remaining = seqs.length;
    this.done = new Promise<void>((resolve, reject) => {
      this.settle = { resolve, reject };
    });
    // A frame nobody awaits any more must not surface as an unhandled rejection.
    this.done.catch(() => undefined);
  }

  acked(count: number): void {
    this.remaining -= count;
    if (this.remaining <= 0) this.settle.resolve();
  }

  fail(error: Error): void {
    this.settle.reject(error);
  }
}

/** Maps each in-flight seq to its frame, so acknowledgements (per seq) settle frames. */
export class FrameTracker {
  private readonly bySeq = new Map<number, SentFrame>();
  private readonly frames = new Set<SentFrame>();

  track(frame: SentFrame): void {
    this.frames.add(frame);
    for (const seq of frame.seqs) this.bySeq.set(seq, frame);
    void frame.done.then(
      () => this.forget(frame),
      () => this.forget(frame),
    );
  }

  ack(seqs: readonly number[]): void {
    const counts = new Map<SentFrame, number>();
    for (const seq of seqs) {
      const frame = this.bySeq.get(seq);
      if (!frame) continue;
      this.bySeq.delete(seq);
      counts.set(frame, (counts.get(frame) ?? 0) + 1);
    }
    for (const [frame, count] of counts) frame.acked(count);
  }

  failAll(error: Error): void {
    for (const frame of [...this.frames]) frame.fail(error);
  }

  get inFlight(): number {
    return this.frames.size;
  }

  private forget(frame: SentFrame): void {
    this.frames.delete(frame);
    for (const seq of frame.seqs) if (this.bySeq.get(seq) === frame) this.bySeq.delete(seq);
  }
}
