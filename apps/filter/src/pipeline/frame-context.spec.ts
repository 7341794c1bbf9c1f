import { ROOT_CONTEXT } from '@opentelemetry/api';
import { FrameContext, FrameOutcome } from './frame-context';

describe('FrameContext', () => {
  it('settles once, after the last part, with the worst outcome', () => {
    const settled: FrameOutcome[] = [];
    const frame = new FrameContext(ROOT_CONTEXT, performance.now(), (outcome) => settled.push(outcome));
    frame.hold();
    frame.hold();
    frame.hold();
    frame.settle('acked');
    frame.settle('failed');
    expect(settled).toEqual([]);
    frame.settle('acked');
    expect(settled).toEqual(['failed']);
  });

  it('reports acked with a positive duration when every part is acked', () => {
    const seconds: number[] = [];
    const frame = new FrameContext(ROOT_CONTEXT, performance.now() - 5, (outcome, s) => {
      expect(outcome).toBe('acked');
      seconds.push(s);
    });
    frame.hold();
    frame.settle('acked');
    expect(seconds[0]).toBeGreaterThan(0.004);
  });
});
