import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { DataflowMetrics } from '@dataflow/observability';
import type { GeneratorConfig } from '../config/generator.config';
import { FilterLink } from '../delivery/filter-link.service';
import { createRecord } from './record-factory';
import { SeqStore } from './seq-store.service';

/**
 * Generates records at `GENERATOR_RATE` a second and hands them to the filter link. Generation
 * pauses whenever the link cannot take more (breaker not closed, or the unacknowledged buffer is
 * full) and resumes at the same rate afterwards without a catch-up burst: paused time produces
 * nothing, so nothing generated is ever dropped.
 */
@Injectable()
export class GeneratorService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(GeneratorService.name);
  private readonly source: string;
  private readonly rate: number;
  private readonly limit: number;
  private readonly shutdownTimeoutMs: number;
  private timer: NodeJS.Timeout | undefined;
  private lastTick = 0;
  private carry = 0;
  private generated = 0;
  private paused = false;

  constructor(
    @Inject(ConfigService) config: ConfigService<GeneratorConfig, true>,
    private readonly seqs: SeqStore,
    private readonly link: FilterLink,
    private readonly metrics: DataflowMetrics,
  ) {
    this.source = config.get('GENERATOR_ID', { infer: true });
    this.rate = config.get('GENERATOR_RATE', { infer: true });
    this.limit = config.get('GENERATOR_LIMIT', { infer: true });
    this.shutdownTimeoutMs = config.get('SHUTDOWN_TIMEOUT_SECONDS', { infer: true }) * 1000;
  }

  onApplicationBootstrap(): void {
    // Small ticks at high rates keep frames small and latency low; at 5/s one record a tick.
    const interval = Math.min(200, Math.max(5, Math.floor(1000 / this.rate)));
    this.lastTick = performance.now();
    this.timer = setInterval(() => this.tick(), interval);
    this.logger.log(`generating ${this.rate} records/s as ${this.source}, starting after seq ${this.seqs.last}`);
  }

  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    const pending = this.link.unacknowledged;
    if (pending === 0) return;
    this.logger.log(`waiting up to ${this.shutdownTimeoutMs} ms for ${pending} unacknowledged records`);
    const timeout = new Promise<'timeout'>((resolve) =>
      setTimeout(() => resolve('timeout'), this.shutdownTimeoutMs).unref(),
    );
    if ((await Promise.race([this.link.drained(), timeout])) === 'timeout') {
      this.logger.warn(`${this.link.unacknowledged} records were not acknowledged before shutdown`);
    }
  }

  get totalGenerated(): number {
    return this.generated;
  }

  private tick(): void {
    const now = performance.now();
    const capacity = this.link.capacity();
    if (capacity === 0 || (this.limit > 0 && this.generated >= this.limit)) {
      this.setPaused(capacity === 0);
      this.lastTick = now;
      this.carry = 0;
      this.link.pump();
      return;
    }
    this.setPaused(false);
    const due = ((now - this.lastTick) * this.rate) / 1000 + this.carry;
    this.lastTick = now;
    let count = Math.floor(due);
    this.carry = due - count;
    count = Math.min(count, capacity, this.limit > 0 ? this.limit - this.generated : Infinity);
    const timestamp = Date.now();
    for (let i = 0; i < count; i++) {
      this.link.enqueue(createRecord(this.source, this.seqs.take(), timestamp));
    }
    this.generated += count;
    this.metrics.recordsProcessed('generate', 'ok', count);
    this.link.pump();
  }

  private setPaused(paused: boolean): void {
    if (paused === this.paused) return;
    this.paused = paused;
    if (paused) this.logger.warn('generation paused: the filter is not accepting records');
    else this.logger.log('generation resumed');
  }
}
