import type { AppProcess } from '../kit/app-process';
import { processUsage } from '../bench/util';
import { metricSum, metricValue } from '../kit/prometheus';
import { sleep } from '../kit/wait';

/** One sample of the filter and the valid generator, about once a second. */
export interface Sample {
  /** Milliseconds since the pattern's filter started. */
  readonly t: number;
  readonly rssMb?: number;
  readonly heapMb?: number;
  /** nodejs_eventloop_lag_p99_seconds over the last scrape interval, ms. */
  readonly loopP99Ms?: number;
  readonly generated?: number;
  readonly acked?: number;
  readonly refused?: number;
}

/** One `/health/live` request: when, and how long it took (timeouts count as the timeout). */
export interface HealthProbe {
  readonly t: number;
  readonly ms: number;
  readonly ok: boolean;
}

const HEALTH_TIMEOUT_MS = 5000;

/**
 * Samples the filter (RSS from /proc, heap and event-loop delay from its /metrics), the generator's
 * counters, and probes the filter's /health/live back to back every 100 ms, until stopped.
 */
export class Sampler {
  readonly samples: Sample[] = [];
  readonly probes: HealthProbe[] = [];
  private running = true;
  private readonly loops: Promise<void>[];

  constructor(
    private readonly filter: AppProcess,
    private readonly generator: AppProcess,
    private readonly origin: number,
  ) {
    this.loops = [this.sampleLoop(), this.probeLoop()];
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  private async sampleLoop(): Promise<void> {
    while (this.running) {
      const started = Date.now();
      const pid = this.filter.pid;
      const usage = pid === undefined ? undefined : processUsage(pid);
      const [filterMetrics, generatorMetrics] = await Promise.all([
        this.filter.metrics(1500),
        this.generator.metrics(1500),
      ]);
      const heap = filterMetrics ? metricValue(filterMetrics, 'nodejs_heap_size_used_bytes') : undefined;
      const lag = filterMetrics ? metricValue(filterMetrics, 'nodejs_eventloop_lag_p99_seconds') : undefined;
      const records = (stage: string, outcome: string): number | undefined =>
        generatorMetrics
          ? metricSum(generatorMetrics, 'dataflow_records_total', { app: 'generator', stage, outcome })
          : undefined;
      this.samples.push({
        t: started - this.origin,
        rssMb: usage?.rssMb,
        heapMb: heap === undefined ? undefined : heap / 1024 / 1024,
        loopP99Ms: lag === undefined ? undefined : lag * 1000,
        generated: records('generate', 'ok'),
        acked: records('deliver', 'acked'),
        refused: records('deliver', 'refused'),
      });
      await sleep(Math.max(0, 1000 - (Date.now() - started)));
    }
  }

  private async probeLoop(): Promise<void> {
    while (this.running) {
      const started = performance.now();
      let ok: boolean;
      try {
        const response = await fetch(`http://127.0.0.1:${this.filter.port}/health/live`, {
          signal: AbortSignal.timeout(HEALTH_TIMEOUT_MS),
        });
        await response.text();
        ok = response.status === 200;
      } catch {
        ok = false;
      }
      const ms = ok ? performance.now() - started : HEALTH_TIMEOUT_MS;
      this.probes.push({ t: Date.now() - this.origin, ms, ok });
      await sleep(100);
    }
  }
}
