import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deleteSourceAt, fileSinkRecords, readDatabases } from '../kit/stores';
import { AppProcess, type AppsPlace } from '../kit/app-process';
import { checkSingleRun, type StepCheck } from '../bench/check';
import { percentiles } from '../bench/util';
import { errorText } from '../kit/tool';
import { metricSum } from '../kit/prometheus';
import { holdsWithin, sleep } from '../kit/wait';
import { type AttackerOptions, type AttackerStats, type PatternName, PATTERNS } from './patterns';
import { type HealthProbe, type Sample, Sampler } from './sampler';
import { type ServiceUrls } from '../kit/services';

/** Routing of the valid stream: the default rule (randomValue above 90 to RabbitMQ, the rest to files). */
const THRESHOLD = 90;
/** The filter's INGEST_MAX_FRAMES_PER_SECOND default, which the frame flood paces itself under. */
const MAX_FRAMES_PER_SECOND = 1000;

export interface AttackSettings extends ServiceUrls, AppsPlace {
  readonly seconds: number;
  readonly warmupS: number;
  readonly baselineS: number;
  readonly rate: number;
  readonly sources: number;
  readonly keepData: boolean;
  /** Extra node arguments for the filter (e.g. V8 heap flags to compare). */
  readonly filterNodeArgs: readonly string[];
  readonly log: (line: string) => void;
}

export interface PatternResult {
  readonly pattern: PatternName;
  readonly description: string;
  readonly seconds: number;
  readonly baselineRssMb: number;
  readonly baselineHeapMb: number;
  readonly rssGrowthMb: number;
  readonly heapGrowthMb: number;
  /** Highest per-second p99 of the event-loop delay during the attack, ms. */
  readonly loopDelayP99Ms?: number;
  readonly healthP99Ms?: number;
  readonly healthFailures: number;
  /** Records/s of the valid stream acknowledged during the attack. */
  readonly validRate: number;
  readonly validTarget: number;
  readonly exactlyOnce: boolean;
  readonly check?: StepCheck;
  readonly attacker?: AttackerStats;
  /** What the filter counted during the pattern (rejections by reason, refused connections). */
  readonly filterCounters: Record<string, number>;
  readonly timeline: Array<{ t: number; rssMb?: number; heapMb?: number; loopP99Ms?: number; healthMs?: number }>;
  readonly pass: { rss: boolean; health: boolean; rate: boolean; exactlyOnce: boolean };
  readonly problems: string[];
}

/** Every app process a pattern started and has not stopped yet: killed if the runner is interrupted. */
export const runningApps = new Set<AppProcess>();

const mean = (values: number[]): number => values.reduce((sum, v) => sum + v, 0) / Math.max(1, values.length);
const defined = <T>(values: Array<T | undefined>): T[] => values.filter((v): v is T => v !== undefined);

/** The writers, shared by every pattern (their counters only ever grow). */
export function startWriters(settings: AttackSettings): { db: AppProcess; mongo: AppProcess } {
  const logDir = join(settings.runDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const writer = (app: 'db-writer' | 'mongo-writer', port: number, env: Record<string, string>): AppProcess =>
    new AppProcess({
      app,
      port,
      env: { NODE_ENV: 'production', LOG_LEVEL: 'info', RABBITMQ_URL: settings.rabbitmqUrl, ...env },
      logFile: join(logDir, `${app}.log`),
      dist: settings.dist,
    });
  return {
    db: writer('db-writer', settings.basePort + 2, {
      DB_WRITER_PORT: String(settings.basePort + 2),
      DATABASE_URL: settings.databaseUrl,
    }),
    mongo: writer('mongo-writer', settings.basePort + 3, {
      MONGO_WRITER_PORT: String(settings.basePort + 3),
      MONGODB_URL: settings.mongodbUrl,
    }),
  };
}

async function writerStored(app: AppProcess): Promise<number | undefined> {
  const samples = await app.metrics();
  if (!samples) return undefined;
  return (
    metricSum(samples, 'dataflow_records_total', { stage: 'store', outcome: 'stored' }) +
    metricSum(samples, 'dataflow_records_total', { stage: 'store', outcome: 'duplicate' })
  );
}

/** Runs the attacker process until `stop` resolves; returns what it reports. */
function startAttacker(options: AttackerOptions, logFile: string): { stop: () => Promise<AttackerStats | undefined> } {
  const child = spawn(
    process.execPath,
    [
      '-r',
      'ts-node/register/transpile-only',
      '-r',
      'tsconfig-paths/register',
      join(__dirname, 'attacker.ts'),
      JSON.stringify(options),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    stop: async () => {
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(10_000)]);
      child.kill('SIGKILL');
      if (err.trim()) writeFileSync(logFile, err);
      const last = out.trim().split('\n').at(-1);
      try {
        return last ? (JSON.parse(last) as AttackerStats) : undefined;
      } catch {
        return undefined;
      }
    },
  };
}

/** Rejections and refused connections the filter counted, by reason. */
async function filterCounters(filter: AppProcess): Promise<Record<string, number>> {
  const samples = (await filter.metrics(5000)) ?? [];
  const counters: Record<string, number> = {};
  for (const sample of samples) {
    if (sample.name === 'dataflow_records_rejected_total' && sample.value > 0) {
      counters[`rejected ${sample.labels.reason ?? '?'}`] = sample.value;
    } else if (sample.name === 'dataflow_connections_refused_total' && sample.value > 0) {
      counters[`refused ${sample.labels.endpoint ?? '?'} ${sample.labels.reason ?? '?'}`] = sample.value;
    } else if (sample.name === 'dataflow_log_lines_suppressed_total' && sample.value > 0) {
      counters[`log lines suppressed`] = sample.value;
    }
  }
  return counters;
}

/**
 * One pattern: a fresh filter and a fresh valid generator (its own source) at `rate`; a warm-up,
 * a baseline, then the attacker for `seconds`; then the generator finishes, everything it sent is
 * acknowledged and stored, and the stores are checked for that source.
 */
export async function runPattern(
  pattern: PatternName,
  settings: AttackSettings,
  writers: { db: AppProcess; mongo: AppProcess },
): Promise<PatternResult> {
  const dir = join(settings.runDir, pattern);
  const outputDir = join(dir, 'filtered');
  const stateDir = join(dir, 'generator');
  mkdirSync(outputDir, { recursive: true });
  mkdirSync(stateDir, { recursive: true });
  const ingestToken = randomBytes(16).toString('hex');
  const adminToken = randomBytes(16).toString('hex');
  const filterPort = settings.basePort + 1;
  const source = `attack-${pattern}-${Date.now().toString(36)}`;
  const limit = Math.round(settings.rate * (settings.warmupS + settings.baselineS + settings.seconds));

  const filter = new AppProcess({
    app: 'filter',
    port: filterPort,
    dist: settings.dist,
    env: {
      NODE_ENV: 'production',
      LOG_LEVEL: 'info',
      LISTEN_HOST: '127.0.0.1',
      FILTER_PORT: String(filterPort),
      FILTER_THRESHOLD: String(THRESHOLD),
      FILTER_OUTPUT_DIR: outputDir,
      RABBITMQ_URL: settings.rabbitmqUrl,
      INGEST_TOKEN: ingestToken,
      FILTER_ADMIN_TOKEN: adminToken,
    },
    logFile: join(dir, 'filter.log'),
    nodeArgs: settings.filterNodeArgs,
  });
  const generator = new AppProcess({
    app: 'generator',
    port: settings.basePort,
    dist: settings.dist,
    env: {
      NODE_ENV: 'production',
      LOG_LEVEL: 'info',
      GENERATOR_PORT: String(settings.basePort),
      GENERATOR_ID: source,
      GENERATOR_RATE: String(settings.rate),
      GENERATOR_LIMIT: String(limit),
      GENERATOR_STATE_DIR: stateDir,
      FILTER_WS_URL: `ws://127.0.0.1:${filterPort}/ingest`,
      INGEST_TOKEN: ingestToken,
    },
    logFile: join(dir, 'generator.log'),
  });

  const queueStart = {
    db: (await writerStored(writers.db)) ?? 0,
    mongo: (await writerStored(writers.mongo)) ?? 0,
  };
  runningApps.add(filter);
  runningApps.add(generator);
  try {
    return await attackWith(pattern, settings, writers, {
      filter,
      generator,
      dir,
      outputDir,
      source,
      limit,
      queueStart,
      ingestToken,
      adminToken,
    });
  } finally {
    // Normally stopped (drained) already; after a failure, no process may outlive the pattern.
    filter.killNow();
    generator.killNow();
    runningApps.delete(filter);
    runningApps.delete(generator);
  }
}

interface PatternApps {
  readonly filter: AppProcess;
  readonly generator: AppProcess;
  readonly dir: string;
  readonly outputDir: string;
  readonly source: string;
  readonly limit: number;
  readonly queueStart: { readonly db: number; readonly mongo: number };
  readonly ingestToken: string;
  readonly adminToken: string;
}

async function attackWith(
  pattern: PatternName,
  settings: AttackSettings,
  writers: { db: AppProcess; mongo: AppProcess },
  { filter, generator, dir, outputDir, source, limit, queueStart, ingestToken, adminToken }: PatternApps,
): Promise<PatternResult> {
  const { log } = settings;
  const problems: string[] = [];
  const filterPort = filter.port;
  await filter.start();
  await filter.ready();
  const origin = Date.now();
  await generator.start();
  const sampler = new Sampler(filter, generator, origin);
  await sleep(settings.warmupS * 1000);
  const baselineFrom = Date.now() - origin;
  await sleep(settings.baselineS * 1000);
  const attackFrom = Date.now() - origin;
  log(`  attacking for ${settings.seconds} s: ${PATTERNS[pattern]}`);
  const attacker = startAttacker(
    {
      pattern,
      port: filterPort,
      ingestToken,
      adminToken,
      sources: settings.sources,
      seconds: settings.seconds,
      maxFramesPerSecond: MAX_FRAMES_PER_SECOND,
    },
    join(dir, 'attacker.log'),
  );
  await sleep(settings.seconds * 1000);
  const attackTo = Date.now() - origin;
  const attackerStats = await attacker.stop();
  const counters = await filterCounters(filter);

  // The valid stream: generated to its limit, every record answered, the writers caught up.
  const generatorCounts = async (): Promise<{ generated: number; acked: number; refused: number }> => {
    const samples = (await generator.metrics()) ?? [];
    const m = (stage: string, outcome: string): number =>
      metricSum(samples, 'dataflow_records_total', { app: 'generator', stage, outcome });
    return { generated: m('generate', 'ok'), acked: m('deliver', 'acked'), refused: m('deliver', 'refused') };
  };
  let counts = await generatorCounts();
  const settled = await holdsWithin(
    async () => {
      counts = await generatorCounts();
      return counts.generated >= limit && counts.acked + counts.refused >= counts.generated;
    },
    180_000,
    500,
  );
  if (!settled) problems.push(`valid stream not settled: ${JSON.stringify(counts)} of ${limit}`);
  const filterSamples = (await filter.metrics(5000)) ?? [];
  const toQueue = metricSum(filterSamples, 'dataflow_records_total', { stage: 'route', outcome: 'queue' });
  const caughtUp = await holdsWithin(
    async () =>
      ((await writerStored(writers.db)) ?? 0) - queueStart.db >= toQueue &&
      ((await writerStored(writers.mongo)) ?? 0) - queueStart.mongo >= toQueue,
    180_000,
    500,
  );
  if (!caughtUp) problems.push('the writers did not catch up within 180 s');
  await sampler.stop();
  const generatorExit = await generator.stop();
  const filterExit = await filter.stop();
  if (generatorExit !== 0) problems.push(`generator exited with ${String(generatorExit)}`);
  if (filterExit !== 0) problems.push(`filter exited with ${String(filterExit)}`);

  let check: StepCheck | undefined;
  try {
    const files = await fileSinkRecords(outputDir, source);
    const stored = await readDatabases(settings.databaseUrl, settings.mongodbUrl, source);
    const [postgres, mongo] = [stored.postgresRecords, stored.mongoDocuments];
    if (counts.refused > 0) problems.push(`${counts.refused} valid records refused by the filter`);
    check = checkSingleRun(THRESHOLD, counts.acked, files.records, postgres, mongo);
    if (files.badLines > 0) check.problems.push(`${files.badLines} bad lines in the sink files`);
    if (counts.acked !== counts.generated) check.problems.push(`acknowledged ${counts.acked} of ${counts.generated}`);
    problems.push(...check.problems.map((problem) => `stores: ${problem}`));
  } catch (error) {
    problems.push(`check failed: ${errorText(error)}`);
  }
  if (!settings.keepData) {
    await deleteSourceAt(settings.databaseUrl, settings.mongodbUrl, source).catch((error: unknown) =>
      log(`  could not delete ${source}: ${errorText(error)}`),
    );
    rmSync(outputDir, { recursive: true, force: true });
  }

  const inWindow = <T extends { t: number }>(items: T[], from: number, to: number): T[] =>
    items.filter((item) => item.t >= from && item.t <= to);
  const baseline = inWindow(sampler.samples, baselineFrom, attackFrom);
  const attack = inWindow(sampler.samples, attackFrom, attackTo);
  const baselineRssMb = mean(defined(baseline.map((s) => s.rssMb)));
  const baselineHeapMb = mean(defined(baseline.map((s) => s.heapMb)));
  const rssGrowthMb = Math.max(0, ...defined(attack.map((s) => s.rssMb))) - baselineRssMb;
  const heapGrowthMb = Math.max(0, ...defined(attack.map((s) => s.heapMb))) - baselineHeapMb;
  const loop = defined(attack.map((s) => s.loopP99Ms));
  const probes: HealthProbe[] = inWindow(sampler.probes, attackFrom, attackTo);
  const health = percentiles(probes.map((p) => p.ms));
  const ackedSamples = attack.filter((s) => s.acked !== undefined);
  const first = ackedSamples[0];
  const last = ackedSamples.at(-1);
  const validRate =
    first && last && last.t > first.t ? (((last.acked ?? 0) - (first.acked ?? 0)) * 1000) / (last.t - first.t) : 0;
  // The stores' verdict on the valid stream; a filter that did not drain cleanly is reported beside it.
  const exactlyOnce = check !== undefined && check.problems.length === 0 && settled && caughtUp;
  const timeline = sampler.samples.map((sample: Sample) => {
    const near = sampler.probes.filter((p) => p.t > sample.t - 1000 && p.t <= sample.t);
    return {
      t: Math.round(sample.t - attackFrom),
      rssMb: sample.rssMb,
      heapMb: sample.heapMb,
      loopP99Ms: sample.loopP99Ms,
      healthMs: near.length > 0 ? Math.max(...near.map((p) => p.ms)) : undefined,
    };
  });
  return {
    pattern,
    description: PATTERNS[pattern],
    seconds: settings.seconds,
    baselineRssMb,
    baselineHeapMb,
    rssGrowthMb,
    heapGrowthMb,
    loopDelayP99Ms: loop.length > 0 ? Math.max(...loop) : undefined,
    healthP99Ms: health?.p99,
    healthFailures: probes.filter((p) => !p.ok).length,
    validRate,
    validTarget: settings.rate,
    exactlyOnce,
    check,
    attacker: attackerStats,
    filterCounters: counters,
    timeline,
    pass: {
      rss: rssGrowthMb <= 64,
      health: health !== undefined && health.p99 <= 100,
      rate: validRate >= 0.8 * settings.rate,
      exactlyOnce,
    },
    problems,
  };
}
