import amqp from 'amqplib';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { MONGO_QUEUE, POSTGRES_QUEUE } from '@dataflow/contracts';
import { reconcile } from '../chaos/reconcile';
import { deleteSourceAt, fileSinkRecords, readDatabases } from '../kit/stores';
import { APP_NAMES, AppName, AppProcess, type AppsPlace } from '../kit/app-process';
import { checkSingleRun, type StepCheck } from './check';
import { metricSum, metricValue, type Sample } from '../kit/prometheus';
import { exactLatencies, type LatencySummary } from './latency';
import { holdsWithin, sleep } from '../kit/wait';
import { errorText } from '../kit/tool';
import { MachineUsage, machineUsage, processUsage, ProcessUsage, SERVICE_NAMES, ServiceName, slope } from './util';
import { type ServiceUrls } from '../kit/services';

const RECORDS = 'dataflow_records_total';
/** Above this many stored records a step is checked by checkSingleRun (see check.ts). */
const RECONCILE_MAX_RECORDS = 100_000;
const SINK_WRITE = 'dataflow_sink_write_duration_seconds';

/** The generator ticks every 5 ms at rates of 200 records/s and more (see GeneratorService). */
const GENERATOR_TICK_MS = 5;
const GENERATOR_FRAME_SIZE = 1000;

export interface PipelineOptions extends ServiceUrls, AppsPlace {
  readonly keepData: boolean;
  readonly log: (line: string) => void;
}

export type Phase = 'warm-up' | 'max-queue' | 'max-mix' | 'fixed-1000' | 'idle-5' | 'profile';

export interface StepPlan {
  readonly phase: Phase;
  readonly rate: number;
  readonly durationS: number;
  /** Seconds at the start of generation left out of the rates and latencies. */
  readonly warmupS: number;
  /** Metrics scrape interval during the step; 0 scrapes only before and after (for idle CPU). */
  readonly scrapeMs: number;
}

export interface AppUsage {
  /** Percent of one core over the measurement window. */
  readonly cpuPercent: number;
  readonly rssMaxMb: number;
  readonly rssEndMb: number;
  /** nodejs_eventloop_lag_p99_seconds (per scrape interval), highest and mean over the window, ms. */
  readonly loopLagP99MaxMs?: number;
  readonly loopLagP99MeanMs?: number;
  readonly loopLagMeanMs?: number;
}

export interface TimelinePoint {
  /** Seconds since the bench started. */
  readonly t: number;
  readonly phase: Phase;
  readonly rate: number;
  /** Per second since the previous point. */
  readonly generatedPerS: number;
  readonly postgresPerS: number;
  readonly mongoPerS: number;
  readonly filePerS: number;
  readonly depthPostgres?: number;
  readonly depthMongo?: number;
}

/** A step's correctness check: {@link StepCheck} plus what the generator made. */
export interface CheckSummary extends StepCheck {
  readonly generated: number;
}

export interface StepResult {
  readonly phase: Phase;
  readonly source: string;
  readonly threshold: number;
  readonly targetRate: number;
  readonly durationS: number;
  readonly windowS: number;
  /** The measurement window, epoch ms. */
  readonly windowStartAt: number;
  readonly windowEndAt: number;
  readonly generatedPerS: number;
  readonly toQueuePerS: number;
  readonly toFilePerS: number;
  readonly postgresPerS: number;
  readonly mongoPerS: number;
  /** Stored in both databases: the lower of the two. */
  readonly bothDbPerS: number;
  readonly backlog: {
    readonly generatorUnacked: number;
    readonly postgresLag: number;
    readonly mongoLag: number;
    readonly maxDepthPostgres: number;
    readonly maxDepthMongo: number;
    /** Records/s the backlogs grew by over the window (least squares). */
    readonly growthPerS: number;
  };
  readonly sustainable: boolean;
  readonly unsustainableBecause: string[];
  readonly latency?: LatencySummary;
  readonly apps: Record<AppName, AppUsage>;
  readonly batching: {
    readonly recordsPerFrame: number;
    readonly recordsPerMessage?: number;
    readonly postgresRecordsPerInsert?: number;
    readonly mongoRecordsPerWrite?: number;
    /** Mean duration of one sink write (dataflow_sink_write_duration_seconds), ms. */
    readonly publishMs?: number;
    readonly fileWriteMs?: number;
    readonly postgresWriteMs?: number;
    readonly mongoWriteMs?: number;
  };
  readonly drainS: number;
  /** Where the machine's CPU went in the window, percent of one core. */
  readonly machine?: {
    readonly busyPercent: number;
    readonly appsPercent: number;
    readonly services: Record<ServiceName, number>;
    /** Everything else: the bench itself and any other load on the machine. */
    readonly otherPercent: number;
    readonly loadAverage: number;
  };
  readonly check: CheckSummary;
  readonly valid: boolean;
}

interface Snapshot {
  readonly at: number;
  readonly metrics: Partial<Record<AppName, Sample[]>>;
  readonly usage: Partial<Record<AppName, ProcessUsage>>;
  readonly depths?: Map<string, number>;
  readonly machine?: MachineUsage;
}

/** Counter values of one snapshot, cumulative per process lifetime. */
interface Counters {
  generated: number;
  acked: number;
  refused: number;
  toQueue: number;
  toFile: number;
  postgres: number;
  mongo: number;
  queueWrites: number;
  postgresWrites: number;
  mongoWrites: number;
  fileWrites: number;
  queueWriteSeconds: number;
  postgresWriteSeconds: number;
  mongoWriteSeconds: number;
  fileWriteSeconds: number;
}

function counters(snapshot: Snapshot): Counters {
  const m = (app: AppName, stage: string, outcome: string): number =>
    metricSum(snapshot.metrics[app] ?? [], RECORDS, { app, stage, outcome });
  const writes = (app: AppName, sink: string, part: 'count' | 'sum' = 'count'): number =>
    metricSum(snapshot.metrics[app] ?? [], `${SINK_WRITE}_${part}`, { sink });
  return {
    generated: m('generator', 'generate', 'ok'),
    acked: m('generator', 'deliver', 'acked'),
    refused: m('generator', 'deliver', 'refused'),
    toQueue: m('filter', 'route', 'queue'),
    toFile: m('filter', 'route', 'file'),
    postgres: m('db-writer', 'store', 'stored') + m('db-writer', 'store', 'duplicate'),
    mongo: m('mongo-writer', 'store', 'stored') + m('mongo-writer', 'store', 'duplicate'),
    queueWrites: writes('filter', 'rabbitmq'),
    postgresWrites: writes('db-writer', 'postgres'),
    mongoWrites: writes('mongo-writer', 'mongodb'),
    fileWrites: writes('filter', 'file'),
    queueWriteSeconds: writes('filter', 'rabbitmq', 'sum'),
    postgresWriteSeconds: writes('db-writer', 'postgres', 'sum'),
    mongoWriteSeconds: writes('mongo-writer', 'mongodb', 'sum'),
    fileWriteSeconds: writes('filter', 'file', 'sum'),
  };
}

function diff(after: Counters, before: Counters): Counters {
  const out = { ...after };
  for (const key of Object.keys(out) as Array<keyof Counters>) out[key] = after[key] - before[key];
  return out;
}

/**
 * The four apps of one configuration (filter threshold, profiling), the metric sampler and the
 * steps: each step runs a fresh generator (a new source and state directory) against the running
 * filter and writers, then checks that every acknowledged record was stored exactly once.
 */
export class PipelineRun {
  readonly apps: Record<AppName, AppProcess>;
  readonly outputDir: string;
  /** The writers' commit logs (see CommitLog): exact latencies. */
  private readonly commitLogs: { postgres: string; mongo: string };
  private readonly token = randomBytes(16).toString('hex');
  private readonly generatorEnv: Record<string, string>;
  private connection: amqp.ChannelModel | undefined;
  private stepIndex = 0;

  constructor(
    private readonly options: PipelineOptions,
    readonly name: string,
    readonly threshold: number,
    private readonly timeline: TimelinePoint[],
    private readonly benchStart: number,
    profileDir?: string,
  ) {
    const dir = join(options.runDir, name);
    this.outputDir = join(dir, 'filtered');
    const logDir = join(dir, 'logs');
    mkdirSync(this.outputDir, { recursive: true });
    mkdirSync(logDir, { recursive: true });
    this.commitLogs = { postgres: join(dir, 'db-writer.commits'), mongo: join(dir, 'mongo-writer.commits') };
    // Exact latencies come from the all-to-queue configuration, where every record reaches both
    // databases; the default mix runs without commit logs, so its idle step measures the apps alone.
    const exact = threshold < 0;
    const port = (name: AppName): number => options.basePort + APP_NAMES.indexOf(name);
    const common = {
      NODE_ENV: 'production',
      LOG_LEVEL: 'info',
      SHUTDOWN_TIMEOUT_SECONDS: '20',
      RABBITMQ_URL: options.rabbitmqUrl,
      // The topology this harness declares and reads: unpartitioned, whatever .env says.
      RECORD_PARTITIONS: '1',
    };
    const nodeArgs = (app: AppName): string[] =>
      profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${app}.cpuprofile`] : [];
    const app = (app: AppName, env: Record<string, string>): AppProcess =>
      new AppProcess({
        app,
        port: port(app),
        env: { ...common, ...env },
        logFile: join(logDir, `${app}.log`),
        dist: options.dist,
        nodeArgs: app === 'generator' ? [] : nodeArgs(app),
      });
    this.generatorEnv = {
      GENERATOR_PORT: String(port('generator')),
      FILTER_WS_URL: `ws://127.0.0.1:${port('filter')}/ingest`,
      INGEST_TOKEN: this.token,
    };
    this.apps = {
      generator: app('generator', this.generatorEnv),
      filter: app('filter', {
        FILTER_PORT: String(port('filter')),
        FILTER_THRESHOLD: String(threshold),
        FILTER_OUTPUT_DIR: this.outputDir,
        INGEST_TOKEN: this.token,
        FILTER_ADMIN_TOKEN: this.token,
      }),
      'db-writer': app('db-writer', {
        DB_WRITER_PORT: String(port('db-writer')),
        DATABASE_URL: options.databaseUrl,
        ...(exact && { DB_WRITER_COMMIT_LOG: this.commitLogs.postgres }),
      }),
      'mongo-writer': app('mongo-writer', {
        MONGO_WRITER_PORT: String(port('mongo-writer')),
        MONGODB_URL: options.mongodbUrl,
        ...(exact && { MONGO_WRITER_COMMIT_LOG: this.commitLogs.mongo }),
      }),
    };
  }

  /** Starts the writers and the filter and waits until all three are ready. */
  async start(): Promise<void> {
    await Promise.all([this.apps['db-writer'].start(), this.apps['mongo-writer'].start()]);
    await this.apps.filter.start();
    await Promise.all((['filter', 'db-writer', 'mongo-writer'] as const).map((name) => this.apps[name].ready()));
  }

  /** SIGTERM to every running app; returns the apps that did not exit with 0. */
  async stop(): Promise<string[]> {
    const bad: string[] = [];
    for (const name of ['generator', 'filter', 'db-writer', 'mongo-writer'] as const) {
      const app = this.apps[name];
      if (!app.running) continue;
      const code = await app.stop();
      if (code !== 0) bad.push(`${name} exited with ${String(code)}`);
    }
    await this.connection?.close().catch(() => undefined);
    this.connection = undefined;
    return bad;
  }

  killAllNow(): void {
    for (const name of APP_NAMES) this.apps[name].killNow();
  }

  private async depths(): Promise<Map<string, number> | undefined> {
    try {
      if (!this.connection) {
        this.connection = await amqp.connect(this.options.rabbitmqUrl);
        this.connection.on('error', () => undefined);
      }
      const channel = await this.connection.createChannel();
      channel.on('error', () => undefined);
      try {
        const depths = new Map<string, number>();
        for (const queue of [POSTGRES_QUEUE, MONGO_QUEUE]) {
          depths.set(queue, (await channel.checkQueue(queue)).messageCount);
        }
        return depths;
      } finally {
        await channel.close().catch(() => undefined);
      }
    } catch {
      this.connection = undefined;
      return undefined;
    }
  }

  private async snapshot(scrape: boolean): Promise<Snapshot> {
    // /proc first: the scrape itself costs the apps CPU.
    const usage: Partial<Record<AppName, ProcessUsage>> = {};
    for (const name of APP_NAMES) {
      const pid = this.apps[name].pid;
      const value = pid === undefined ? undefined : processUsage(pid);
      if (value) usage[name] = value;
    }
    const machine = machineUsage();
    const at = Date.now();
    const metrics: Partial<Record<AppName, Sample[]>> = {};
    let depths: Map<string, number> | undefined;
    if (scrape) {
      const [scraped, queueDepths] = await Promise.all([
        Promise.all(APP_NAMES.map(async (name) => [name, await this.apps[name].metrics()] as const)),
        this.depths(),
      ]);
      for (const [name, samples] of scraped) if (samples) metrics[name] = samples;
      depths = queueDepths;
    }
    return { at, metrics, usage, depths, machine };
  }

  private elapsed(at: number): number {
    return (at - this.benchStart) / 1000;
  }

  /** One step: a fresh generator at `plan.rate` for `plan.durationS`, drained, checked. */
  /**
   * One step: a generator at the plan's rate for its duration, the steady window measured, the
   * pipeline drained, the stores checked, and the step judged sustainable or not.
   */
  async step(plan: StepPlan): Promise<StepResult> {
    const { generator, source, stateDir, limit } = this.startGenerator(plan);
    const before = await this.snapshot(true);
    await generator.start();
    const window = await this.observe(plan, generator, limit, before);
    const drain = await this.drain(limit, before, window.last);
    const exitCode = await generator.stop();
    const usage = this.appUsage(window.first, window.last, window.generating);
    const latency = await this.latency(source, window.startAt, window.last.at);

    const problems: string[] = [];
    if (!drain.complete) problems.push(`the generator did not reach its limit of ${limit} records`);
    if (!drain.acknowledged) problems.push('not every generated record was acknowledged within 120 s');
    if (!drain.caughtUp) problems.push('the writers did not catch up with the filter within 240 s');
    if (exitCode !== 0) problems.push(`generator exited with ${String(exitCode)}`);
    const check = await this.check(source, stateDir, counters(drain.final), exitCode === 0, problems);
    if (!this.options.keepData) {
      await deleteSourceAt(this.options.databaseUrl, this.options.mongodbUrl, source).catch((error: unknown) =>
        this.options.log(`    could not delete ${source}: ${errorText(error)}`),
      );
    }
    const rates = windowRates(window.first, window.last);
    const backlog = backlogAt(window, before);
    const because = unsustainable(plan, rates, backlog);
    const queueCounters = diff(counters(drain.final), counters(before));
    return {
      phase: plan.phase,
      source,
      threshold: this.threshold,
      targetRate: plan.rate,
      durationS: plan.durationS,
      windowS: rates.windowS,
      windowStartAt: window.first.at,
      windowEndAt: window.last.at,
      generatedPerS: rates.generatedPerS,
      toQueuePerS: rates.toQueuePerS,
      toFilePerS: rates.toFilePerS,
      postgresPerS: rates.postgresPerS,
      mongoPerS: rates.mongoPerS,
      bothDbPerS: Math.min(rates.postgresPerS, rates.mongoPerS),
      backlog,
      sustainable: because.length === 0,
      unsustainableBecause: because,
      latency,
      apps: usage,
      batching: batchingOf(plan, queueCounters),
      drainS: drain.seconds,
      machine: machineShare(window.first, window.last, usage),
      check,
      valid: check.problems.length === 0,
    };
  }

  /** The step's generator (not started yet): its own source, seq state and record limit. */
  private startGenerator(plan: StepPlan): { generator: AppProcess; source: string; stateDir: string; limit: number } {
    this.stepIndex++;
    const source = `bench-${this.name}-${this.stepIndex}-${Date.now().toString(36)}`;
    const stateDir = join(this.options.runDir, this.name, `generator-${this.stepIndex}`);
    mkdirSync(stateDir, { recursive: true });
    // Without scraping the generator must still be generating when the window ends.
    const limit = Math.max(
      1,
      Math.round(plan.rate * (plan.scrapeMs > 0 ? plan.durationS : plan.warmupS + plan.durationS + 5)),
    );
    const generator = new AppProcess({
      app: 'generator',
      port: this.apps.generator.port,
      dist: this.options.dist,
      env: {
        NODE_ENV: 'production',
        LOG_LEVEL: 'info',
        SHUTDOWN_TIMEOUT_SECONDS: '30',
        ...this.generatorEnv,
        GENERATOR_ID: source,
        GENERATOR_RATE: String(plan.rate),
        GENERATOR_LIMIT: String(limit),
        GENERATOR_STATE_DIR: stateDir,
      },
      logFile: this.apps.generator.logFile,
    });
    this.apps.generator = generator;
    return { generator, source, stateDir, limit };
  }

  /**
   * The steady window. Scraping: snapshots until the generator reached its limit, the window being
   * those after the warm-up while it still generated. Idle: two snapshots and nothing in between
   * touches the apps but /proc reads.
   */
  private async observe(plan: StepPlan, generator: AppProcess, limit: number, before: Snapshot): Promise<StepWindow> {
    const generationStart = Date.now();
    const startAt = generationStart + plan.warmupS * 1000;
    const snapshots: Snapshot[] = [];
    if (plan.scrapeMs <= 0) {
      await sleep(Math.max(0, startAt - Date.now()));
      const first = await this.snapshot(true);
      await sleep(plan.durationS * 1000);
      const last = await this.snapshot(true);
      snapshots.push(first, last);
      return { startAt, first, last, snapshots, generating: snapshots };
    }
    const deadline = generationStart + plan.durationS * 2000 + 15_000;
    let previous = before;
    for (;;) {
      await sleep(plan.scrapeMs);
      const now = await this.snapshot(true);
      snapshots.push(now);
      this.addPoint(plan, previous, now);
      previous = now;
      const generated = counters(now).generated;
      if (generated >= limit) break;
      if (Date.now() > deadline) {
        this.options.log(`    generation did not reach ${limit} records in time (${generated})`);
        break;
      }
      if (!generator.running) throw new Error(`generator exited; see ${generator.logFile}`);
    }
    const inWindow = snapshots.filter((s) => s.at >= startAt);
    const generating = inWindow.filter((s) => counters(s).generated < limit);
    const first = inWindow[0] ?? before;
    const last = generating.at(-1) ?? inWindow.at(-1) ?? before;
    return { startAt, first, last, snapshots, generating };
  }

  /** Drain: every record acknowledged, both writers caught up with the filter. */
  private async drain(limit: number, before: Snapshot, last: Snapshot): Promise<Drain> {
    const started = Date.now();
    let final = last;
    const settled = (holds: (c: Counters) => boolean, timeoutMs: number): Promise<boolean> =>
      holdsWithin(
        async () => {
          final = await this.snapshot(true);
          return holds(counters(final));
        },
        timeoutMs,
        250,
      );
    const complete = await settled((c) => c.generated >= limit, 180_000);
    const acknowledged = await settled((c) => c.acked + c.refused >= c.generated && c.generated > 0, 120_000);
    const caughtUp = await settled((c) => {
      const d = diff(c, counters(before));
      return d.postgres >= d.toQueue && d.mongo >= d.toQueue;
    }, 240_000);
    return { final, complete, acknowledged, caughtUp, seconds: (Date.now() - started) / 1000 };
  }

  private addPoint(plan: StepPlan, previous: Snapshot, now: Snapshot): void {
    const seconds = Math.max(0.001, (now.at - previous.at) / 1000);
    const a = counters(now);
    const b = counters(previous);
    // The generator is a new process per step: its counters start from zero.
    const generated = previous.metrics.generator ? a.generated - b.generated : a.generated;
    this.timeline.push({
      t: this.elapsed(now.at),
      phase: plan.phase,
      rate: plan.rate,
      generatedPerS: Math.max(0, generated) / seconds,
      postgresPerS: Math.max(0, a.postgres - b.postgres) / seconds,
      mongoPerS: Math.max(0, a.mongo - b.mongo) / seconds,
      filePerS: Math.max(0, a.toFile - b.toFile) / seconds,
      depthPostgres: now.depths?.get(POSTGRES_QUEUE),
      depthMongo: now.depths?.get(MONGO_QUEUE),
    });
  }

  private appUsage(first: Snapshot, last: Snapshot, window: readonly Snapshot[]): Record<AppName, AppUsage> {
    const result = {} as Record<AppName, AppUsage>;
    for (const name of APP_NAMES) {
      const start = first.usage[name];
      const end = last.usage[name];
      const seconds = Math.max(0.001, (last.at - first.at) / 1000);
      const rss = window.map((s) => s.usage[name]?.rssMb ?? 0);
      const lagP99 = window
        .map((s) => metricValue(s.metrics[name] ?? [], 'nodejs_eventloop_lag_p99_seconds'))
        .filter((v): v is number => v !== undefined && Number.isFinite(v))
        .map((v) => v * 1000);
      const lagMean = window
        .map((s) => metricValue(s.metrics[name] ?? [], 'nodejs_eventloop_lag_mean_seconds'))
        .filter((v): v is number => v !== undefined && Number.isFinite(v))
        .map((v) => v * 1000);
      result[name] = {
        cpuPercent: start && end ? ((end.cpuSeconds - start.cpuSeconds) / seconds) * 100 : NaN,
        rssMaxMb: Math.max(0, ...rss, end?.rssMb ?? 0),
        rssEndMb: end?.rssMb ?? NaN,
        loopLagP99MaxMs: lagP99.length > 0 ? Math.max(...lagP99) : undefined,
        loopLagP99MeanMs: lagP99.length > 0 ? lagP99.reduce((s, v) => s + v, 0) / lagP99.length : undefined,
        loopLagMeanMs: lagMean.length > 0 ? lagMean.reduce((s, v) => s + v, 0) / lagMean.length : undefined,
      };
    }
    return result;
  }

  /** Exact per-record latencies of the records generated in the window (see latency.ts). */
  private async latency(source: string, fromMs: number, toMs: number): Promise<LatencySummary | undefined> {
    if (this.threshold >= 0) return undefined; // no commit logs in this configuration
    try {
      return await exactLatencies(this.options.databaseUrl, source, fromMs, toMs, this.commitLogs);
    } catch (error) {
      this.options.log(`    latency query failed: ${errorText(error)}`);
      return undefined;
    }
  }

  /** Reads the three sinks for the source and reconciles them with what the generator reported. */
  private async check(
    source: string,
    stateDir: string,
    generator: Counters,
    cleanDrain: boolean,
    problems: string[],
  ): Promise<CheckSummary> {
    let reservedUpTo = 0;
    try {
      reservedUpTo = Number(readFileSync(join(stateDir, `${source}.seq`), 'utf8').trim()) || 0;
    } catch {
      problems.push('the generator seq file could not be read');
    }
    try {
      const files = await fileSinkRecords(this.outputDir, source);
      const { postgresRecords, mongoDocuments } = await readDatabases(
        this.options.databaseUrl,
        this.options.mongodbUrl,
        source,
      );
      const acknowledgedAll = generator.generated - generator.refused;
      if (acknowledgedAll > RECONCILE_MAX_RECORDS && cleanDrain && generator.refused === 0) {
        // A single clean run needs no per-lifetime accounting: the linear check is enough and cheaper.
        const single = checkSingleRun(this.threshold, acknowledgedAll, files.records, postgresRecords, mongoDocuments);
        if (files.badLines > 0) single.problems.push(`${files.badLines} bad lines in the sink files`);
        problems.push(...single.problems);
        return { ...single, generated: generator.generated, problems };
      }
      const result = reconcile(
        source,
        this.threshold,
        [
          {
            firstSeq: 1,
            generated: generator.generated,
            acked: generator.acked,
            refused: generator.refused,
            end: 'stopped',
            reservedUpTo,
            cleanDrain,
          },
        ],
        { fileRecords: files.records, fileBadLines: files.badLines, postgresRecords, mongoDocuments },
      );
      const queueRecords = postgresRecords.length;
      if (result.lost > 0) problems.push(`${result.lost} acknowledged records lost`);
      if (result.unexplainedGaps.length > 0) problems.push(`${result.unexplainedGaps.length} seqs missing`);
      if (result.duplicatedTotal > 0) problems.push(`${result.duplicatedTotal} duplicates`);
      if (result.misnested > 0) problems.push(`${result.misnested} documents nested wrongly`);
      if (result.onlyInPostgres.length + result.onlyInMongo.length > 0) {
        problems.push(
          `${result.onlyInPostgres.length} records only in PostgreSQL, ${result.onlyInMongo.length} only in MongoDB`,
        );
      }
      if (result.misrouted.length > 0) problems.push(`${result.misrouted.length} records in the wrong sink`);
      if (result.corrupt.length > 0) problems.push(`${result.corrupt.length} corrupt records`);
      if (result.fileBadLines > 0) problems.push(`${result.fileBadLines} bad lines in the sink files`);
      if (result.acknowledged !== generator.generated - generator.refused) {
        problems.push(`acknowledged ${result.acknowledged} of ${generator.generated} generated`);
      }
      if (result.storedDistinct !== result.acknowledged) {
        problems.push(`${result.storedDistinct} distinct records stored, ${result.acknowledged} acknowledged`);
      }
      if (generator.refused > 0) problems.push(`${generator.refused} records refused by the filter`);
      return {
        acknowledged: result.acknowledged,
        generated: result.generated,
        inFiles: result.inFiles,
        inPostgres: queueRecords,
        inMongo: result.inMongo,
        lost: result.lost,
        duplicated: result.duplicatedTotal,
        misnested: result.misnested,
        problems,
      };
    } catch (error) {
      problems.push(`reconciliation failed: ${errorText(error)}`);
      return {
        acknowledged: 0,
        generated: generator.generated,
        inFiles: 0,
        inPostgres: 0,
        inMongo: 0,
        lost: 0,
        duplicated: 0,
        misnested: 0,
        problems,
      };
    }
  }
}

interface StepWindow {
  /** When the warm-up ended. */
  readonly startAt: number;
  readonly first: Snapshot;
  readonly last: Snapshot;
  readonly snapshots: readonly Snapshot[];
  /** The window's snapshots taken while the generator still generated. */
  readonly generating: readonly Snapshot[];
}

interface Drain {
  readonly final: Snapshot;
  readonly complete: boolean;
  readonly acknowledged: boolean;
  readonly caughtUp: boolean;
  readonly seconds: number;
}

interface WindowRates {
  readonly windowS: number;
  readonly generatedPerS: number;
  readonly toQueuePerS: number;
  readonly toFilePerS: number;
  readonly postgresPerS: number;
  readonly mongoPerS: number;
}

function windowRates(first: Snapshot, last: Snapshot): WindowRates {
  const windowS = Math.max(0.001, (last.at - first.at) / 1000);
  const span = diff(counters(last), counters(first));
  return {
    windowS,
    generatedPerS: span.generated / windowS,
    toQueuePerS: span.toQueue / windowS,
    toFilePerS: span.toFile / windowS,
    postgresPerS: span.postgres / windowS,
    mongoPerS: span.mongo / windowS,
  };
}

/** What waited at the window's end, and how fast the backlog grew during it. */
function backlogAt(window: StepWindow, before: Snapshot): StepResult['backlog'] {
  const lastCounters = counters(window.last);
  const stepCounters = diff(lastCounters, counters(before));
  // Generator counters start from zero with the process; the others are per filter/writer lifetime.
  const backlogPoints = window.generating.map((s): [number, number] => {
    const c = counters(s);
    const d = diff(c, counters(before));
    return [s.at / 1000, Math.max(c.generated - c.acked - c.refused, d.toQueue - d.postgres, d.toQueue - d.mongo)];
  });
  const depthsOf = (queue: string): number =>
    Math.max(0, ...window.snapshots.map((s) => s.depths?.get(queue) ?? 0).filter((v) => Number.isFinite(v)));
  return {
    generatorUnacked: lastCounters.generated - lastCounters.acked - lastCounters.refused,
    postgresLag: stepCounters.toQueue - stepCounters.postgres,
    mongoLag: stepCounters.toQueue - stepCounters.mongo,
    maxDepthPostgres: depthsOf(POSTGRES_QUEUE),
    maxDepthMongo: depthsOf(MONGO_QUEUE),
    growthPerS: slope(backlogPoints),
  };
}

/** Why the step's rate is not sustainable (empty: it is). */
function unsustainable(plan: StepPlan, rates: WindowRates, backlog: StepResult['backlog']): string[] {
  const allowance = Math.max(2000, plan.rate);
  const { generatedPerS, toQueuePerS, postgresPerS, mongoPerS } = rates;
  const because: string[] = [];
  if (generatedPerS < 0.95 * plan.rate) because.push(`generated ${generatedPerS.toFixed(0)}/s < 95% of the target`);
  if (toQueuePerS > 0 && postgresPerS < 0.95 * toQueuePerS) because.push('PostgreSQL store rate < 95% of queue rate');
  if (toQueuePerS > 0 && mongoPerS < 0.95 * toQueuePerS) because.push('MongoDB store rate < 95% of queue rate');
  if (backlog.generatorUnacked > allowance) {
    because.push(`generator backlog ${backlog.generatorUnacked} records at the window end`);
  }
  if (backlog.postgresLag > allowance) because.push(`PostgreSQL lag ${backlog.postgresLag} records at the window end`);
  if (backlog.mongoLag > allowance) because.push(`MongoDB lag ${backlog.mongoLag} records at the window end`);
  if (backlog.growthPerS > 0.05 * plan.rate) {
    because.push(`backlog growing by ${backlog.growthPerS.toFixed(0)} records/s`);
  }
  return because;
}

/** Records per frame, message and write, and time per write, over the whole step. */
function batchingOf(plan: StepPlan, step: Counters): StepResult['batching'] {
  return {
    recordsPerFrame: Math.min(
      GENERATOR_FRAME_SIZE,
      Math.max(1, (plan.rate * Math.max(GENERATOR_TICK_MS, Math.min(200, 1000 / plan.rate))) / 1000),
    ),
    recordsPerMessage: ratio(step.toQueue, step.queueWrites),
    postgresRecordsPerInsert: ratio(step.postgres, step.postgresWrites),
    mongoRecordsPerWrite: ratio(step.mongo, step.mongoWrites),
    publishMs: ratio(step.queueWriteSeconds * 1000, step.queueWrites),
    fileWriteMs: ratio(step.fileWriteSeconds * 1000, step.fileWrites),
    postgresWriteMs: ratio(step.postgresWriteSeconds * 1000, step.postgresWrites),
    mongoWriteMs: ratio(step.mongoWriteSeconds * 1000, step.mongoWrites),
  };
}

function machineShare(first: Snapshot, last: Snapshot, apps: Record<AppName, AppUsage>): StepResult['machine'] {
  const a = first.machine;
  const b = last.machine;
  if (!a || !b) return undefined;
  const seconds = Math.max(0.001, (last.at - first.at) / 1000);
  const percent = (cpuSeconds: number): number => (cpuSeconds / seconds) * 100;
  const services = {} as Record<ServiceName, number>;
  for (const name of SERVICE_NAMES) services[name] = percent(b.services[name] - a.services[name]);
  const busyPercent = percent(b.busySeconds - a.busySeconds);
  const appsPercent = APP_NAMES.reduce((sum, name) => sum + (apps[name].cpuPercent || 0), 0);
  const servicesPercent = SERVICE_NAMES.reduce((sum, name) => sum + services[name], 0);
  return {
    busyPercent,
    appsPercent,
    services,
    otherPercent: Math.max(0, busyPercent - appsPercent - servicesPercent),
    loadAverage: loadavg()[0] ?? 0,
  };
}

/** MongoDB documents deleted per command: FerretDB turns one delete into one statement with a parameter per document. */
function ratio(a: number, b: number): number | undefined {
  return b > 0 ? a / b : undefined;
}
