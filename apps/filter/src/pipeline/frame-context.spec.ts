import type { Context, Span } from '@opentelemetry/api';
import { FrameContext, FrameOutcome } from './frame-context';

function fakeSpan() {
  const calls = { ended: 0, status: [] as unknown[] };
  const span = {
    end: () => {
      calls.ended++;
    },
    setStatus: (status: unknown) => {
      calls.status.push(status);
    },
  } as unknown as Span;
  return { span, calls };
}

describe('FrameContext', () => {
  it('settles once, after the last part, with the worst outcome', () => {
    const { span, calls } = fakeSpan();
    const settled: FrameOutcome[] = [];
    const frame = new FrameContext(span, {} as Context, performance.now(), (outcome) => settled.push(outcome));
    frame.hold();
    frame.hold();
    frame.hold();
    frame.settle('acked');
    frame.settle('failed');
    expect(settled).toEqual([]);
    frame.settle('acked');
    expect(settled).toEqual(['failed']);
    expect(calls.ended).toBe(1);
    expect(calls.status).toHaveLength(1);
  });

  it('reports acked with a positive duration when every part is acked', () => {
    const { span, calls } = fakeSpan();
    const seconds: number[] = [];
    const frame = new FrameContext(span, {} as Context, performance.now() - 5, (outcome, s) => {
      expect(outcome).toBe('acked');
      seconds.push(s);
    });
    frame.hold();
    frame.settle('acked');
    expect(seconds[0]).toBeGreaterThan(0.004);
    expect(calls.status).toHaveLength(0);
  });
});
