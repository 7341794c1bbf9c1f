import { CircuitState } from 'cockatiel';
import { probeWhileOpen } from './breaker-probe';
import { NamedPolicy } from './named-policy';

const quiet = { stateChanged: () => undefined, retrying: () => undefined };

function wait(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function open(policy: NamedPolicy): Promise<void> {
  for (let i = 0; i < 2; i++) await policy.execute(() => Promise.reject(new Error('down'))).catch(() => undefined);
  expect(policy.state).toBe(CircuitState.Open);
}

describe('probeWhileOpen', () => {
  it('closes an open breaker that no caller tries, once the dependency answers', async () => {
    const policy = new NamedPolicy('broker', { breaker: { consecutiveFailures: 2, halfOpenAfterMs: 50 } }, quiet);
    let answering = false;
    let probes = 0;
    const probe = probeWhileOpen(policy, () => {
      probes++;
      return answering ? Promise.resolve() : Promise.reject(new Error('still down'));
    });
    try {
      await open(policy);
      await wait(180);
      // Tried after each pause, failed, still open.
      expect(probes).toBeGreaterThanOrEqual(2);
      expect(policy.state).toBe(CircuitState.Open);
      answering = true;
      await wait(120);
      expect(policy.state).toBe(CircuitState.Closed);
      const settled = probes;
      await wait(120);
      // Closed: no more probes.
      expect(probes).toBe(settled);
    } finally {
      probe.stop();
    }
  });

  it('probes nothing once stopped', async () => {
    const policy = new NamedPolicy('broker', { breaker: { consecutiveFailures: 2, halfOpenAfterMs: 20 } }, quiet);
    let probes = 0;
    const probe = probeWhileOpen(policy, () => {
      probes++;
      return Promise.resolve();
    });
    probe.stop();
    await open(policy);
    await wait(80);
    expect(probes).toBe(0);
    expect(policy.state).toBe(CircuitState.Open);
  });
});
