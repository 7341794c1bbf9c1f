import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MONGO_QUEUE, POSTGRES_QUEUE } from '@dataflow/contracts';
import { AppProcess } from '../kit/app-process';
import { metricSum, type Sample } from '../kit/prometheus';
import { appOf, breakerStates, INSTANCE_NAMES, InstanceName, MONGO_WRITERS } from './apps';
import { DirectPublisher } from './direct-publisher';
import type { ChaosOptions } from './options';
import type { GeneratorLifetime, RouteWindow } from './reconcile';
import { QueueProbe, RECORD_QUEUES, withTimeout } from './services';
import { sleep } from '../kit/wait';
import { runAborted, runSignal } from './abort';
import { errorText } from '../kit/tool';

const RECORDS = 'dataflow_records_total';

const FLAT_KEYS = ['generator', 'pg', 'mongo'] as const;
type FlatKey = (typeof FLAT_KEYS)[number];

/** Sums the increases of a counter across process restarts (a drop means the process restarted). */
export class CounterTracker {
  private last: number | undefined;
  total = 0;

  feed(value: number | undefined): void {
    if (value === undefined) return;
    if (this.last === undefined) this.total += value;
    else if (value >= this.last) this.total += value - this.last;
    else this.total += value; // restarted from zero
    this.last = value;
  }

  /** The process ended: its next lifetime starts from zero. */
  reset(): void {
    this.last = 0;
  }
}

/** The counters followed over the whole run, restarts included, per process: by instance, name → `stage outcome`. */
const TRACKED_BY_INSTANCE = {
  generator: { generated: 'generate ok', acked: 'deliver acked', resent: 'deliver resend' },
  filter: { toQueue: 'route queue', toFile: 'route file', handoffFailed: 'handoff failed' },
  'db-writer': { pgStored: 'store stored', pgDuplicate: 'store duplicate' },
  'mongo-writer': { mongoStored: 'store stored', mongoDuplicate: 'store duplicate' },
  'mongo-writer-b': { mongoStoredB: 'store stored', mongoDuplicateB: 'store duplicate' },
} as const satisfies Partial<Record<InstanceName, Record<string, string>>>;

type ByInstance = typeof TRACKED_BY_INSTANCE;
export type TrackedName = { [I in keyof ByInstance]: keyof ByInstance[I] }[keyof ByInstance];

/** The same counters by name, with the labels of their series. */
export const TRACKED = Object.fromEntries(
  Object.entries(TRACKED_BY_INSTANCE).flatMap(([instance, names]) =>
    Object.entries(names).map(([name, labels]) => {
      const [stage, outcome] = labels.split(' ') as [string, string];
      return [name, { instance: instance as InstanceName, stage, outcome }];
    }),
  ),
) as Record<TrackedName, { readonly instance: InstanceName; readonly stage: string; readonly outcome: string }>;

/** What was seen while one fault was active and until the pipeline recovered. */
export interface FaultObservation {
  readonly name: string;
  readonly description: string;
  /** Seconds since the run started. */
  readonly startS: number;
  /** Inject start to restore done. */
  outageS?: number;
  /** Restore done to records flowing end to end again. */
  recoverS?: number;
  /** Highest state per `app/breaker` (0 closed, 1 half-open, 2 open). */
  readonly breakers: Map<string, number>;
  /** Apps whose /health/ready answered non-200 (or nothing) at some point. */
  readonly notReady: Set<InstanceName>;
  /** Longest time the generator's generated counter stood still while it was running. */
  /** Longest standstill inside the window of: the generator's generated counter (while it ran), each writer's stored+duplicate counter. */
  readonly flatMs: Record<FlatKey, number>;
  generatorDown: boolean;
  maxQueueDepth: number;
  /** Counter increases during the window. */
  readonly deltas: Partial<Record<TrackedName, number>>;
  readonly errors: string[];
}

/**
 * The running pipeline: the four apps, a sampler that scrapes their metrics twice a second for the
 * whole run, the generator's lifetimes, and the observation of the fault in progress.
 */
export class Pipeline {
  readonly apps: Record<InstanceName, AppProcess>;
  /** Records of a source of its own published straight onto the exchange, in large messages. */
  readonly direct: DirectPublisher;
  /** While these windows were open the routing rules changed: records generated then may take either route. */
  readonly routeWindows: RouteWindow[] = [];
  readonly adminToken: string;
  readonly lifetimes: GeneratorLifetime[] = [];
  readonly trackers = Object.fromEntries(Object.keys(TRACKED).map((key) => [key, new CounterTracker()])) as Record<
    TrackedName,
    CounterTracker
  >;
  readonly probe: QueueProbe;
  readonly source: string;
  readonly runStart = Date.now();
  readonly stateDir: string;
  readonly outputDir: string;
  readonly logDir: string;
  private sampling: Promise<void> | undefined;
  private stopSampling = false;
  private current: FaultObservation | undefined;
  private currentStartedAt = 0;
  private samples = 0;
  private windowStart: Partial<Record<TrackedName, number>> = {};
  private readonly lastChange = new Map<FlatKey, { value: number; since: number }>();
  lastDepths: Map<string, number> | undefined;
  lastStatusLine = 0;

  constructor(
    readonly options: ChaosOptions,
    source: string,
  ) {
    this.source = source;
    this.stateDir = join(options.runDir, 'generator-state');
    this.outputDir = join(options.runDir, 'filtered');
    this.logDir = join(options.runDir, 'logs');
    this.probe = new QueueProbe(options.rabbitmqUrl);
    const port = (offset: number): number => options.basePort + offset;
    // A token per run: the filter requires one when NODE_ENV=production.
    const token = randomBytes(16).toString('hex');
    this.adminToken = randomBytes(16).toString('hex');
    this.direct = new DirectPublisher(options.rabbitmqUrl, `${source}-direct`, options.directRate, options.directBatch);
    const common = {
      NODE_ENV: 'production',
      LOG_LEVEL: 'info',
      SHUTDOWN_TIMEOUT_SECONDS: '20',
      RABBITMQ_URL: options.rabbitmqUrl,
      // The topology this harness declares and reads: unpartitioned, whatever .env says.
      RECORD_PARTITIONS: '1',
    };
    const app = (name: InstanceName, env: Record<string, string>): AppProcess =>
      new AppProcess({
        app: appOf(name),
        name,
        port: port(INSTANCE_NAMES.indexOf(name)),
        env: { ...common, ...env },
        logFile: join(this.logDir, `${name}.log`),
        detached: true,
        signal: runSignal(),
      });
    const mongoWriter = (name: InstanceName): AppProcess =>
      app(name, {
        MONGO_WRITER_PORT: String(port(INSTANCE_NAMES.indexOf(name))),
        MONGODB_URL: options.mongodbUrl,
        MONGO_WRITER_BREAKER_HALF_OPEN_MS: '1000',
        MONGO_WRITER_RETRY_MAX_MS: '2000',
        // A hung FerretDB (SIGSTOP) must count as failing within seconds (and a slow answer must not).
        MONGO_WRITER_WRITE_TIMEOUT_MS: '10000',
      });
    this.apps = {
      generator: app('generator', {
        GENERATOR_PORT: String(port(0)),
        GENERATOR_ID: source,
        GENERATOR_RATE: String(options.rate),
        GENERATOR_STATE_DIR: this.stateDir,
        FILTER_WS_URL: `ws://127.0.0.1:${port(1)}/ingest`,
        INGEST_TOKEN: token,
        GENERATOR_BREAKER_HALF_OPEN_MS: '1000',
        GENERATOR_ACK_TIMEOUT_MS: '3000',
        GENERATOR_RECONNECT_MAX_MS: '2000',
      }),
      filter: app('filter', {
        FILTER_PORT: String(port(1)),
        FILTER_THRESHOLD: String(options.threshold),
        FILTER_OUTPUT_DIR: this.outputDir,
        INGEST_TOKEN: token,
        FILTER_ADMIN_TOKEN: this.adminToken,
        FILTER_BREAKER_HALF_OPEN_MS: '1000',
        FILTER_PUBLISH_TIMEOUT_MS: '2000',
      }),
      'db-writer': app('db-writer', {
        DB_WRITER_PORT: String(port(2)),
        DATABASE_URL: options.databaseUrl,
        DB_WRITER_BREAKER_HALF_OPEN_MS: '1000',
        DB_WRITER_RETRY_MAX_MS: '2000',
      }),
      'mongo-writer': mongoWriter('mongo-writer'),
      'mongo-writer-b': mongoWriter('mongo-writer-b'),
    };
  }

  elapsedS(at = Date.now()): number {
    return (at - this.runStart) / 1000;
  }

  /** Records go to the queue sinks at all with this threshold. */
  get queueTraffic(): boolean {
    return this.options.threshold < 100;
  }

  /** Records go to the file sink at all with this threshold. */
  get fileTraffic(): boolean {
    return this.options.threshold >= 0;
  }

  /** The value in the generator's seq file: the last seq reserved (0 before the first block). */
  reservedSeq(): number {
    try {
      const value = Number(readFileSync(join(this.stateDir, `${this.source}.seq`), 'utf8').trim());
      return Number.isSafeInteger(value) ? value : 0;
    } catch {
      return 0;
    }
  }

  /** Starts a generator lifetime: numbering continues after the reserved block. */
  async startGenerator(timeoutMs: number): Promise<void> {
    this.lifetimes.push({ firstSeq: this.reservedSeq() + 1, generated: 0, acked: 0, refused: 0, end: 'running' });
    await this.apps.generator.start(timeoutMs);
  }

  /** Reads the generator's counters into its current lifetime (they only grow within one). */
  sampleGenerator(samples: readonly Sample[] | undefined): void {
    const lifetime = this.lifetimes.at(-1);
    if (!lifetime || lifetime.end !== 'running' || !samples) return;
    const value = (outcome: string, stage: string): number =>
      metricSum(samples, RECORDS, { app: 'generator', stage, outcome }) ?? 0;
    lifetime.generated = Math.max(lifetime.generated, value('ok', 'generate'));
    lifetime.acked = Math.max(lifetime.acked, value('acked', 'deliver'));
    lifetime.refused = Math.max(lifetime.refused, value('refused', 'deliver'));
  }

  /** SIGKILL the generator right after reading its counters; closes the lifetime. */
  async killGenerator(): Promise<void> {
    this.sampleGenerator(await this.apps.generator.metrics(1000));
    await this.apps.generator.kill();
    this.endGenerator('killed');
  }

  endGenerator(end: 'killed' | 'stopped', cleanDrain = false): void {
    const lifetime = this.lifetimes.at(-1);
    if (!lifetime || lifetime.end !== 'running') return;
    lifetime.end = end;
    lifetime.reservedUpTo = this.reservedSeq();
    lifetime.cleanDrain = cleanDrain;
    this.trackers.generated.reset();
    this.trackers.acked.reset();
    this.trackers.resent.reset();
  }

  /** Starts the background sampler (twice a second until stopSampler). */
  startSampler(): void {
    this.stopSampling = false;
    this.sampling = (async () => {
      while (!this.stopSampling) {
        const started = Date.now();
        try {
          // Every probe has its own limit; this one bounds the whole sample, whatever hangs.
          await withTimeout(this.sampleOnce(), 10_000, 'one sample');
        } catch (error) {
          this.current?.errors.push(`sampler: ${errorText(error)}`);
        }
        await sleep(Math.max(50, 500 - (Date.now() - started)));
      }
    })();
  }

  async stopSampler(): Promise<void> {
    this.stopSampling = true;
    await withTimeout(this.sampling ?? Promise.resolve(), 15_000, 'the sampler to stop').catch(() => undefined);
  }

  /** Scrapes every running app (metrics, readiness) and the queue depths once. */
  async sampleOnce(): Promise<void> {
    // Readiness once a second only: each failed check is logged by the app at error level.
    const checkReadiness = this.samples++ % 2 === 0;
    const scrape = async (name: InstanceName): Promise<[InstanceName, Sample[] | undefined, number]> => {
      const app = this.apps[name];
      if (!app.running) return [name, undefined, -1];
      const [samples, ready] = await Promise.all([
        app.metrics(1000),
        checkReadiness ? app.get('/health/ready', 1000) : Promise.resolve({ status: 200 }),
      ]);
      return [name, samples, ready.status];
    };
    const [scraped, depths] = await Promise.all([
      Promise.all(INSTANCE_NAMES.map((name) => scrape(name))),
      this.probe.depths(RECORD_QUEUES),
    ]);
    const now = Date.now();
    const byApp = new Map(scraped.map(([name, samples]) => [name, samples]));
    this.sampleGenerator(byApp.get('generator'));
    for (const [key, labels] of Object.entries(TRACKED) as Array<[TrackedName, (typeof TRACKED)[TrackedName]]>) {
      const samples = byApp.get(labels.instance);
      const { stage, outcome } = labels;
      this.trackers[key].feed(metricSum(samples, RECORDS, { app: appOf(labels.instance), stage, outcome }));
    }
    if (depths) this.lastDepths = depths;

    const generatorUp = this.apps.generator.running && byApp.get('generator') !== undefined;
    const marks = this.flowMarks();
    const values: Record<FlatKey, number | undefined> = {
      generator: generatorUp ? this.trackers.generated.total : undefined,
      pg: marks.pg,
      mongo: marks.mongo,
    };
    for (const key of FLAT_KEYS) {
      const value = values[key];
      const last = this.lastChange.get(key);
      if (value === undefined) this.lastChange.delete(key);
      else if (!last || last.value !== value) this.lastChange.set(key, { value, since: now });
    }

    const observation = this.current;
    if (observation) {
      for (const [name, samples, ready] of scraped) {
        for (const [breaker, state] of breakerStates(samples)) {
          const key = `${name}/${breaker}`;
          observation.breakers.set(key, Math.max(observation.breakers.get(key) ?? 0, state));
        }
        if (ready !== 200) observation.notReady.add(name);
      }
      if (!this.apps.generator.running) observation.generatorDown = true;
      for (const key of FLAT_KEYS) {
        const last = this.lastChange.get(key);
        if (!last) continue;
        // Only the part of a standstill inside this fault's window counts.
        const flatFor = now - Math.max(last.since, this.currentStartedAt);
        observation.flatMs[key] = Math.max(observation.flatMs[key], flatFor);
      }
      for (const depth of depths?.values() ?? []) {
        observation.maxQueueDepth = Math.max(observation.maxQueueDepth, depth);
      }
    }
    if (now - this.lastStatusLine >= 10_000) {
      this.lastStatusLine = now;
      this.printStatus(scraped);
    }
  }

  private printStatus(scraped: Array<[InstanceName, Sample[] | undefined, number]>): void {
    const open: string[] = [];
    for (const [name, samples] of scraped) {
      for (const [breaker, state] of breakerStates(samples)) {
        if (state !== 0) open.push(`${name}/${breaker}=${state === 2 ? 'open' : 'half-open'}`);
      }
    }
    const down = INSTANCE_NAMES.filter((name) => !this.apps[name].running);
    const t = this.trackers;
    const depth = (queue: string): string => String(this.lastDepths?.get(queue) ?? '?');
    console.log(
      `  [${this.elapsedS().toFixed(0).padStart(4)} s] generated ${t.generated.total}, acked ${t.acked.total}, ` +
        `file ${t.toFile.total}, queue ${t.toQueue.total}, pg ${t.pgStored.total}, ` +
        `mongo ${t.mongoStored.total + t.mongoStoredB.total}, direct ${this.direct.confirmed.length}; ` +
        `depth pg ${depth(POSTGRES_QUEUE)} mongo ${depth(MONGO_QUEUE)}` +
        (open.length > 0 ? `; breakers ${open.join(' ')}` : '') +
        (down.length > 0 ? `; down: ${down.join(' ')}` : ''),
    );
  }

  /** Starts observing a fault. */
  beginObservation(name: string, description: string): FaultObservation {
    this.currentStartedAt = Date.now();
    this.current = {
      name,
      description,
      startS: this.elapsedS(),
      breakers: new Map(),
      notReady: new Set(),
      flatMs: { generator: 0, pg: 0, mongo: 0 },
      generatorDown: false,
      maxQueueDepth: 0,
      deltas: {},
      errors: [],
    };
    this.windowStart = Object.fromEntries(
      (Object.keys(TRACKED) as TrackedName[]).map((key) => [key, this.trackers[key].total]),
    );
    return this.current;
  }

  endObservation(): void {
    const observation = this.current;
    if (!observation) return;
    for (const key of Object.keys(TRACKED) as TrackedName[]) {
      observation.deltas[key] = this.trackers[key].total - (this.windowStart[key] ?? 0);
    }
    this.current = undefined;
  }

  /**
   * Records flow end to end again: the generator got new acknowledgements and, when records go to
   * the queue, both writers stored (or dropped as duplicates) new records, all after `since`.
   */
  flowMarks(): Record<'acked' | 'pg' | 'mongo', number> {
    const t = this.trackers;
    return {
      acked: t.acked.total,
      pg: t.pgStored.total + t.pgDuplicate.total,
      mongo: t.mongoStored.total + t.mongoDuplicate.total + t.mongoStoredB.total + t.mongoDuplicateB.total,
    };
  }

  flowingSince(marks: Record<'acked' | 'pg' | 'mongo', number>): boolean {
    const now = this.flowMarks();
    const writers =
      (!this.queueTraffic && this.options.directRate <= 0) || (now.pg > marks.pg && now.mongo > marks.mongo);
    return now.acked > marks.acked && writers;
  }

  /** Every app process still running gets SIGKILL (synchronous; for exit handlers). */
  killAllNow(): void {
    for (const name of INSTANCE_NAMES) this.apps[name].killNow();
  }

  /**
   * The mongo-writer that is storing now (the single active consumer): the one whose counters
   * move; if neither moves within a few seconds, the first one running.
   */
  async activeMongoWriter(): Promise<InstanceName> {
    const stored = async (name: InstanceName): Promise<number> =>
      metricSum(await this.apps[name].metrics(1000), RECORDS, { stage: 'store' }) ?? -1;
    const before = await Promise.all(MONGO_WRITERS.map(stored));
    for (let i = 0; i < 10; i++) {
      await sleep(500);
      const now = await Promise.all(MONGO_WRITERS.map(stored));
      const moved = MONGO_WRITERS.find((_, k) => (now[k] ?? -1) > (before[k] ?? -1) && (before[k] ?? -1) >= 0);
      if (moved) return moved;
    }
    return MONGO_WRITERS.find((name) => this.apps[name].running) ?? 'mongo-writer';
  }

  /** The default rule set: the threshold rule of the run. */
  defaultRules(): unknown {
    const { threshold } = this.options;
    return {
      name: `chaos-threshold-${threshold}`,
      rules: [{ name: 'above-threshold', when: { field: 'randomValue', op: 'gt', value: threshold }, route: 'queue' }],
      default: 'file',
    };
  }

  /** PUT /rules on the filter (throws unless it answers 200). */
  async putRules(rules: unknown): Promise<void> {
    const response = await fetch(`${this.apps.filter.baseUrl}/rules`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${this.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(rules),
      signal: AbortSignal.timeout(5000),
    });
    if (response.status !== 200) throw new Error(`PUT /rules answered ${response.status}: ${await response.text()}`);
  }

  aborted(): boolean {
    return runAborted();
  }
}
